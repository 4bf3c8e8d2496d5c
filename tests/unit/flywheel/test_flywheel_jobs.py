"""Job arguments per environment and run, parameter validation and snapshot resolution: pure logic,
no AWS and no Airflow database."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from pipelines.flywheel.catalog import msck_repair_kwargs, msck_repair_statement, select_part_tables
from pipelines.flywheel.config import load_environment, load_settings
from pipelines.flywheel.errors import FlywheelConfigError, InvalidRunSettings
from pipelines.flywheel.jobs import (
    STEPS,
    RunSettings,
    job_run_request,
    resolve_run_settings,
    snapshot_key_pattern,
    step_run_settings,
    validate_snapshot_dt,
)
from tests.integration.flywheel.flywheel_support import RUNBOOK

ROOT = Path(__file__).resolve().parents[3]
NOON = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def prod():
    return load_environment("prod")


@pytest.fixture(scope="module")
def dev():
    return load_environment("dev")


def test_environments_are_prod_and_dev():
    assert sorted(load_settings().environments) == ["dev", "prod"]


@pytest.mark.parametrize("step", sorted(STEPS))
def test_prod_job_runs_are_exactly_the_runbooks(prod, step):
    assert job_run_request(prod, step, RunSettings()) == RUNBOOK[step]


@pytest.mark.parametrize("step", sorted(STEPS))
def test_dev_mirrors_prod_with_dev_names(prod, dev, step):
    prod_job, prod_args = job_run_request(prod, step, RunSettings())
    dev_job, dev_args = job_run_request(dev, step, RunSettings())

    assert dev_job == prod_job.replace("-prod-", "-dev-")
    assert dev_args.keys() == prod_args.keys()
    for name, value in dev_args.items():
        assert "prod" not in value, f"{step} {name} points at prod in dev: {value}"


def test_run_settings_reach_the_arguments(prod):
    run = RunSettings(snapshot_dt="2026-03-01", tables_filter=("ibe_01", "addressable_ids"), bucket_count=64,
                      bucket_col="household_id")

    _, split = job_run_request(prod, "infobase_split_and_bucket", run)
    _, bucketed = job_run_request(prod, "create_athena_bucketed_tables", run)
    _, register = job_run_request(prod, "register_part_tables", run)

    assert split["--SNAPSHOT_DT"] == register["--SNAPSHOT_DT"] == "2026-03-01"
    assert bucketed["--TABLES_FILTER"] == "ibe_01,addressable_ids"
    assert (bucketed["--BUCKET_COUNT"], bucketed["--BUCKET_COL"]) == ("64", "household_id")


@pytest.mark.parametrize("run_type", ["scheduled", "backfill"])
def test_dated_runs_process_their_own_snapshot_whatever_the_param(run_type):
    settings = resolve_run_settings({"snapshot_dt": "_NONE_"}, run_type, NOON)

    assert settings.snapshot_dt == "2026-03-02"


@pytest.mark.parametrize("run_type", ["manual", "asset_triggered"])
def test_other_runs_take_the_param(run_type):
    assert resolve_run_settings({"snapshot_dt": "2026-02-28"}, run_type, NOON).snapshot_dt == "2026-02-28"
    assert resolve_run_settings({}, run_type, NOON).snapshot_dt == "_NONE_"


def test_a_tables_filter_the_repair_job_would_ignore_is_refused():
    with pytest.raises(InvalidRunSettings, match="tables_filter narrows only repair_with=athena_msck"):
        resolve_run_settings({"repair_with": "prepare_part_tables_job", "tables_filter": ["ibe_01_a"]}, "manual", None)

    assert resolve_run_settings({"repair_with": "athena_msck", "tables_filter": ["ibe_01_a"]}, "manual",
                                None).tables_filter == ("ibe_01_a",)
    assert resolve_run_settings({"repair_with": "prepare_part_tables_job", "tables_filter": None}, "manual",
                                None).tables_filter == ()


def test_the_report_reads_no_run_settings_from_the_run():
    """Whatever a run's conf holds, the report job is built from no settings (its DAG takes no conf)."""
    context = {"params": {"snapshot_dt": "2026-02-30"}, "dag_run": type("Run", (), {"run_type": "manual"})(),
               "logical_date": None}

    assert step_run_settings("generate_cleanrooms_report", context) == RunSettings()
    with pytest.raises(InvalidRunSettings):
        step_run_settings("register_part_tables", context)


@pytest.mark.parametrize("value", ["2026-02-30", "2026-13-01", "20260301", "2026-3-1", "_none_", "", "x" * 500])
def test_bad_snapshot_dates_are_one_line_errors(value):
    with pytest.raises(InvalidRunSettings) as error:
        validate_snapshot_dt(value)

    assert "\n" not in str(error.value)
    assert len(str(error.value)) < 120


@pytest.mark.parametrize(
    "settings",
    [
        {"tables_filter": ("ibe_01", "x'; DROP TABLE y; --")},
        {"tables_filter": ('ibe"01',)},
        {"bucket_col": "customer user id"},
        {"bucket_count": 0},
    ],
)
def test_unsafe_settings_are_refused(settings):
    with pytest.raises(InvalidRunSettings):
        RunSettings(**settings)


def test_snapshot_sensor_waits_for_the_dated_folder_of_the_source(prod):
    pattern = snapshot_key_pattern(prod, "infobase_raw", "2026-03-01")

    assert pattern == ("s3://omc-flywheel-data-us-east-1-prod/opus/infobase_attributes/raw_input/"
                       "snapshot_dt=2026-03-01/*")
    with pytest.raises(InvalidRunSettings):
        snapshot_key_pattern(prod, "infobase_raw", "_NONE_")


def test_unknown_environment_is_one_clear_error():
    with pytest.raises(FlywheelConfigError, match=r"unknown flywheel environment 'staging'; expected one of"):
        load_environment("staging")


def committed_config_with(tmp_path, change) -> Path:
    """A copy of the committed flywheel.yaml after ``change(document)``."""
    document = yaml.safe_load((ROOT / "include" / "config" / "flywheel.yaml").read_text())
    change(document)
    path = tmp_path / "flywheel.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_missing_key_names_it(tmp_path):
    broken = committed_config_with(tmp_path, lambda doc: doc["environments"]["dev"].pop("region"))

    with pytest.raises(FlywheelConfigError, match=r"^flywheel\.yaml: environments\.dev\.region: Field required$"):
        load_environment("dev", broken)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda doc: doc["glue_wait"].update(poll_seconds="soon"), "glue_wait.poll_seconds"),
        (lambda doc: doc["snapshot_wait"].update(timeout_seconds=0), "snapshot_wait.timeout_seconds"),
        (lambda doc: doc.update(msck_max_active=-1), "msck_max_active"),
        (lambda doc: doc.update(msck_max_activ=5), "msck_max_activ: Extra inputs are not permitted"),
        (lambda doc: doc["table_prefixes"].pop("partitioned"), "table_prefixes.partitioned: Field required"),
        (lambda doc: doc["environments"]["dev"].update(database="omc-dev"), "environments.dev.database"),
        (lambda doc: doc["environments"]["prod"]["sources"].update(infobase_raw="omc/raw/"),
         "environments.prod.sources.infobase_raw"),
    ],
)
def test_every_setting_is_typed_and_a_bad_one_is_named_in_one_line(tmp_path, change, named):
    with pytest.raises(FlywheelConfigError) as error:
        load_environment("dev", committed_config_with(tmp_path, change))

    assert str(error.value).startswith("flywheel.yaml: ")
    assert named in str(error.value)
    assert "\n" not in str(error.value)


def test_the_waits_and_limits_come_typed_from_the_file(prod):
    assert (prod.glue_wait.poll_seconds, prod.glue_wait.max_poll_attempts) == (60, 180)
    assert (prod.snapshot_wait.poke_seconds, prod.snapshot_wait.timeout_seconds) == (300, 43200)
    assert prod.msck_max_active == 5


def test_part_tables_are_selected_by_prefix_filter_and_safe_names():
    names = ["ext_ibe_01", "part_ibe_01_a", "part_ibe_02_a", "part_addressable_ids", "part_bad-name", "parts"]

    assert select_part_tables(names, "part_") == ["part_addressable_ids", "part_ibe_01_a", "part_ibe_02_a"]
    assert select_part_tables(names, "part_", ["ibe_01_a", "part_addressable_ids"]) == [
        "part_addressable_ids", "part_ibe_01_a"]


def test_msck_statement_comes_from_the_sql_file_and_refuses_unsafe_names():
    assert msck_repair_statement("part_ibe_01_a") == "MSCK REPAIR TABLE `part_ibe_01_a`"
    with pytest.raises(ValueError, match="refusing"):
        msck_repair_statement("part_x`; DROP TABLE y")
    (kwargs,) = msck_repair_kwargs(["part_a"], database="db", output_location="s3://r/", workgroup="wg")
    assert kwargs == {"query": "MSCK REPAIR TABLE `part_a`", "database": "db", "output_location": "s3://r/",
                      "workgroup": "wg"}


def test_no_bucket_name_or_account_id_in_dag_or_python_code():
    code = [*ROOT.joinpath("dags").glob("flywheel_*.py"), *ROOT.joinpath("plugins/pipelines/flywheel").glob("*.py")]
    assert code
    for path in code:
        text = path.read_text()
        assert "omc-flywheel-" not in text, path.name
        assert not re.search(r"\b\d{12}\b", text), f"{path.name}: looks like an AWS account id"
        assert not re.search(r"s3://[a-z0-9]", text), f"{path.name}: literal S3 location"
