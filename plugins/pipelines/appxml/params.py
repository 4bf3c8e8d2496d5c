"""The trigger form of the ``appxml_staging`` DAG: the partition params and the index switches."""

from __future__ import annotations

from typing import Any

from pipelines.common.params import bool_param, modulo_partition_params


def staging_params() -> dict[str, Any]:
    return {
        **modulo_partition_params(workers=8, batch=1000, max_batch=50_000, unit="source rows",
                                  workers_note="Keep it stable between runs."),
        "drop_index": bool_param(False, title="Drop index", description="Drop IX_app_xml_staging_app_id "
                                 "before staging (for a large initial load)."),
        "recreate_index": bool_param(True, title="Recreate index", description="Recreate the index "
                                     "after staging (a no-op when it exists)."),
    }
