"""The Flywheel Glue steps' OpenLineage events through a real HTTP transport: what each job reads and
writes, from its arguments (S3 prefixes, the snapshot's folder, the Glue tables it registers)."""

from __future__ import annotations

import pytest

from tests.integration.flywheel.flywheel_support import load_flywheel_dag, seed_prod_account

pytestmark = pytest.mark.integration
S3 = "s3://omc-flywheel-data-us-east-1-prod"
GLUE = "awsathena://athena.us-east-1.amazonaws.com"
DB = "AwsDataCatalog.omc_flywheel_prod"


@pytest.fixture
def prod(aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_FLYWHEEL_ENV", "prod")
    return seed_prod_account(aws, snapshot_dt="2026-03-01")


def test_glue_steps_name_their_prefixes_and_tables(dag_runner, prod, openlineage_events):
    result = dag_runner(load_flywheel_dag("flywheel_bucketed"), {"snapshot_dt": "2026-03-01"})
    assert result.state == "success", result.task_states

    def datasets(task_id: str) -> tuple[set, set]:
        (event,) = openlineage_events.of_task("flywheel_bucketed", task_id)
        return openlineage_events.names(event["inputs"]), openlineage_events.names(event["outputs"])

    assert datasets("infobase_split_and_bucket") == (
        {(S3, "opus/infobase_attributes/raw_input/snapshot_dt=2026-03-01/"),
         (S3, "omc_cleanroom_data/omc_flywheel_infobase_table_split_lowercase.csv")},
        {(S3, "omc_cleanroom_data/split_cluster/infobase_attributes/")})
    assert datasets("register_infobase") == (
        {(S3, "omc_cleanroom_data/split_cluster/infobase_attributes/")}, {(GLUE, f"{DB}.ext_*")})
    assert datasets("create_athena_bucketed_tables") == (
        {(GLUE, f"{DB}.ext_*")},
        {(S3, "omc_cleanroom_data/cleanroom_tables/bucketed/"), (GLUE, f"{DB}.bucketed_*")})
