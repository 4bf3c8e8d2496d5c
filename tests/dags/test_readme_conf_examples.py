"""Every conf the runbook (docs/runbook.md) shows ("Trigger a run with conf") is one its DAG accepts: only declared
keys, and values its params validate (the same schema the trigger form and the REST API apply). Every DAG
family has a line there."""

from __future__ import annotations

import copy
import json
import re

import pytest

from pipelines.common.params import unknown_conf_keys
from tests.support.airflow_env import load_dags
from tests.support.readme import RUNBOOK, section

ROW = re.compile(r"^\| `(?P<dag_id>\w+)` \| `(?P<conf>\{.*?\})` \|", re.M)


def readme_examples() -> list[tuple[str, dict]]:
    rows = ROW.finditer(section("## Trigger a run with conf", RUNBOOK))
    return [(row["dag_id"], json.loads(row["conf"])) for row in rows]


@pytest.fixture(scope="module")
def dags() -> dict:
    return load_dags()


def family(dag_id: str) -> str:
    """``pup_fileload__b`` and ``pup_fileload__a`` are one family: the same DAG for another partition."""
    return dag_id.split("__", 1)[0]


def test_every_dag_family_has_an_example(dags):
    assert {family(dag_id) for dag_id, _ in readme_examples()} == {family(dag_id) for dag_id in dags}


@pytest.mark.parametrize(("dag_id", "conf"), readme_examples(), ids=lambda value: json.dumps(value))
def test_the_example_conf_is_accepted(dags, dag_id, conf):
    dag = dags[dag_id]
    assert unknown_conf_keys(conf, dag.params.keys()) is None
    params = copy.deepcopy(dag.params)
    params.update(conf)
    params.validate()
