"""The trigger form of the ``appxml_mapping`` DAG: the partition params and ``retry_failed``."""

from __future__ import annotations

from typing import Any

from pipelines.common.params import bool_param, modulo_partition_params


def mapping_params() -> dict[str, Any]:
    return {
        **modulo_partition_params(workers=4, batch=500, max_batch=20_000, unit="applications",
                                  workers_note="One mapped task each."),
        "retry_failed": bool_param(False, title="Retry failed", description="Map applications logged as "
                                   "failed again (e.g. after a contract fix)."),
    }
