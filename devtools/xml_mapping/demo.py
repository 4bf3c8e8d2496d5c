"""``make demo`` for xml_mapping: after ``appxml_staging`` has staged the demo's generated documents, one
``appxml_mapping`` run maps them with the example contracts (``include/config/xml_mapping/``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devtools.demo import DemoEnv, DemoSpec
from pipelines.appxml.config import CONN_ID

DEMO_CONF = {"workers": 2, "batch": 100}


def _database(env: DemoEnv) -> Any:
    # The appxml demo's database: its staging table is this DAG's source.
    return env.database("postgres", "appxml")


def connections(env: DemoEnv) -> Mapping[str, str]:
    return {CONN_ID: _database(env).airflow_conn()}


def counts(env: DemoEnv) -> Mapping[str, Any]:
    db = _database(env)
    return {
        "mapped": db.scalar("SELECT COUNT(*) FROM migration.processing_log WHERE status = 'success'"),
        "failed": db.scalar("SELECT COUNT(*) FROM migration.processing_log WHERE status = 'failed'"),
        "contacts": db.scalar("SELECT COUNT(*) FROM migration.applicant"),
    }


def _no_seed(env: DemoEnv) -> None:
    """The staged rows come from the appxml_staging demo run, which runs first."""


DEMOS = [DemoSpec(dag_id="appxml_mapping", seed=_no_seed, connections=connections, counts=counts,
                  conf=DEMO_CONF, order=20)]
