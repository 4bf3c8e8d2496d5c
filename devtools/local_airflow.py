"""The one builder of a local Airflow's environment, shared by ``make demo`` / ``make airflow``
(scripts/demo.py), the test session (tests/support/airflow_env.py) and the end-to-end clusters
(tests/support/airflow_cluster.py).

It gives what every local Airflow of this project needs (its home, metadata DB, the project's dags/ and
plugins/, no example DAGs, the project on PYTHONPATH for task processes); each caller adds what is its own
(the demo's UI login, the tests' second DAG bundle, a cluster's executor and ports).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGS_FOLDER = PROJECT_ROOT / "dags"
PLUGINS_FOLDER = PROJECT_ROOT / "plugins"
AIRFLOW_CLI = Path(sys.executable).with_name("airflow")
LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
DAGS_BUNDLE = "dags-folder"


def airflow_environment(home: Path, metadata_url: str | None = None, *, dags_folder: Path = DAGS_FOLDER,
                        extra_bundles: Mapping[str, Path] | None = None) -> dict[str, str]:
    """Airflow settings for a local Airflow in ``home``.

    The metadata DB is ``metadata_url``, else SQLite in ``home``. ``dags_folder`` is the ``dags-folder``
    bundle; ``extra_bundles`` (name → folder) are more local bundles, e.g. DAGs that exist only for tests.
    """
    bundles = {DAGS_BUNDLE: dags_folder, **(extra_bundles or {})}
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [{"name": name, "classpath": LOCAL_BUNDLE, "kwargs": {"path": str(folder)}}
             for name, folder in bundles.items()]
        ),
        # Task processes and programs they start import pipelines (and the demo's stand-ins) like `make` does.
        "PYTHONPATH": os.pathsep.join([str(PLUGINS_FOLDER), str(PROJECT_ROOT)]),
    }
