"""The three Flywheel DAGs run end to end with dag.test() against a real moto server (Glue jobs, Glue
catalog, Athena, S3) through the Amazon provider's operators; the assertions read what moto recorded."""

from __future__ import annotations

from functools import cache

import pytest
from airflow.sdk.exceptions import ParamValidationError

from tests.integration.flywheel.flywheel_support import (
    RUNBOOK,
    FlywheelAccount,
    fast_retries,
    load_flywheel_dag,
    runs_of_job_fail,
    seed_prod_account,
    slow_glue_runs,
)

pytestmark = pytest.mark.integration

BUCKETED_STEPS = ["infobase_split_and_bucket", "addressable_bucket", "register_infobase", "register_addressable",
                  "create_athena_bucketed_tables"]
PARTITIONED_STEPS = ["infobase_split_and_part", "addressable_split_and_part", "register_part_tables"]
PART_TABLES = ["part_addressable_ids", "part_ibe_01_a", "part_ibe_02_a"]


@pytest.fixture
def prod(aws, monkeypatch):
    """moto seeded as the prod account; the DAGs select prod through the flywheel_env Variable."""
    monkeypatch.setenv("AIRFLOW_VAR_FLYWHEEL_ENV", "prod")
    return seed_prod_account(aws, snapshot_dt="2026-03-01")


def runs_by_job_and_args(account):
    return sorted((run.job, sorted(run.arguments.items())) for run in account.job_runs())


def expected_runs(steps, **overrides):
    runs = []
    for step in steps:
        job, args = RUNBOOK[step]
        runs.append((job, sorted({**args, **overrides.get(step, {})}.items())))
    return sorted(runs)


def assert_started_in_dependency_order(dag, account, steps):
    """Every step's job run started after the job runs of the steps upstream of it."""
    started = {}
    runs = account.job_runs()
    for step in steps:
        job, args = RUNBOOK[step]
        (run,) = [r for r in runs if r.job == job and r.arguments.get("--S3_ROOT") == args.get("--S3_ROOT")]
        started[step] = run.started_on
    for step in steps:
        for upstream in dag.get_task(step).get_flat_relative_ids(upstream=True) & set(steps):
            assert started[upstream] < started[step], f"{step} started before its upstream {upstream}"


def test_bucketed_runs_the_runbook_jobs_with_its_exact_arguments(dag_runner, prod):
    dag = load_flywheel_dag("flywheel_bucketed")

    result = dag_runner(dag, {})

    assert result.state == "success"
    assert {step: result.state_of(step) for step in BUCKETED_STEPS} == dict.fromkeys(BUCKETED_STEPS, "success")
    # snapshot_dt _NONE_: nothing to wait for, the jobs discover the latest snapshot
    assert result.state_of("wait_for_infobase_split_and_bucket_snapshot") == "skipped"
    assert runs_by_job_and_args(prod) == expected_runs(BUCKETED_STEPS)
    assert_started_in_dependency_order(dag, prod, BUCKETED_STEPS)
    run_id = result.xcom("flywheel_bucketed", "create_athena_bucketed_tables")
    assert run_id in {run.run_id for run in prod.job_runs()}


def test_bucketed_with_snapshot_filter_and_overrides(dag_runner, prod):
    conf = {"snapshot_dt": "2026-03-01", "tables_filter": ["addressable_ids", "ibe_01", "ibe_02"],
            "bucket_count": 128, "bucket_col": "household_id"}

    result = dag_runner(load_flywheel_dag("flywheel_bucketed"), conf)

    assert result.state == "success"
    assert result.state_of("wait_for_infobase_split_and_bucket_snapshot") == "success"
    assert result.state_of("wait_for_addressable_bucket_snapshot") == "success"
    dated = {"--SNAPSHOT_DT": "2026-03-01"}
    assert runs_by_job_and_args(prod) == expected_runs(BUCKETED_STEPS, **{
        "infobase_split_and_bucket": dated,
        "addressable_bucket": dated,
        "create_athena_bucketed_tables": {"--TABLES_FILTER": "addressable_ids,ibe_01,ibe_02",
                                          "--BUCKET_COUNT": "128", "--BUCKET_COL": "household_id"},
    })


def test_partitioned_repairs_every_part_table_of_the_catalog(dag_runner, prod):
    dag = load_flywheel_dag("flywheel_partitioned")

    result = dag_runner(dag, {})

    assert result.state == "success"
    assert runs_by_job_and_args(prod) == expected_runs(PARTITIONED_STEPS)
    assert_started_in_dependency_order(dag, prod, PARTITIONED_STEPS)
    assert result.state_of("prepare_part_tables") == "skipped"
    msck = result.states_of("msck_repair")
    assert set(msck.values()) == {"success"}
    labels = sorted(label for (task, _), label in result.rendered_map_indexes.items() if task == "msck_repair")
    assert labels == PART_TABLES  # ext_* tables of the same database are not repaired
    assert sorted(prod.athena_queries()) == [f"MSCK REPAIR TABLE `{table}`" for table in PART_TABLES]
    assert result.state_of("publish_part_tables") == "success"
    assert part_tables_events(result.run_id) == [{"env": "prod", "database": "omc_flywheel_prod",
                                                  "snapshot_dt": "_NONE_"}]


def test_partitioned_tables_filter_narrows_the_msck_fan_out(dag_runner, prod):
    result = dag_runner(load_flywheel_dag("flywheel_partitioned"), {"tables_filter": ["ibe_01_a"]})

    assert result.state == "success"
    assert prod.athena_queries() == ["MSCK REPAIR TABLE `part_ibe_01_a`"]


def test_partitioned_can_repair_with_the_prepare_part_tables_job(dag_runner, prod):
    result = dag_runner(load_flywheel_dag("flywheel_partitioned"), {"repair_with": "prepare_part_tables_job"})

    assert result.state == "success"
    assert result.state_of("list_part_tables") == "skipped"
    assert runs_by_job_and_args(prod) == expected_runs([*PARTITIONED_STEPS, "prepare_part_tables"])
    assert prod.athena_queries() == []
    assert result.state_of("publish_part_tables") == "success"


def test_reports_runs_the_report_job_without_arguments(dag_runner, prod):
    result = dag_runner(load_flywheel_dag("flywheel_reports"), {})

    assert result.state == "success"
    assert runs_by_job_and_args(prod) == expected_runs(["generate_cleanrooms_report"])


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("flywheel_bucketed", {"snapshot_dt": "2026-13-01"}),
        ("flywheel_bucketed", {"snapshot_dt": "yesterday"}),
        ("flywheel_bucketed", {"tables_filter": ["ibe_01", "ibe_02'; DROP TABLE x; --"]}),
        ("flywheel_bucketed", {"bucket_col": "customer user id"}),
        ("flywheel_partitioned", {"tables_filter": ['part_"x"']}),
    ],
)
def test_invalid_params_are_rejected_before_any_aws_call(dag_runner, prod, dag_id, conf):
    with pytest.raises(ParamValidationError):
        dag_runner(unchanged_dag(dag_id), conf)

    assert prod.job_runs() == []
    assert prod.athena_queries() == []


def test_failed_glue_run_fails_its_task_stops_dependents_and_alerts(dag_runner, prod, aws, slack_webhook):
    dag = load_flywheel_dag("flywheel_bucketed")
    fast_retries(dag)
    split_job = RUNBOOK["infobase_split_and_bucket"][0]

    with slow_glue_runs(aws, reads_per_state=2), runs_of_job_fail(split_job) as failed_runs:
        result = dag_runner(dag, {})

    assert result.state == "failed"
    assert result.state_of("infobase_split_and_bucket") == "failed"
    assert result.state_of("register_infobase") == "upstream_failed"
    assert result.state_of("create_athena_bucketed_tables") == "upstream_failed"
    assert result.state_of("register_addressable") == "success"  # the independent branch still finishes
    split_runs = [run for run in prod.job_runs() if run.job == split_job]
    # one run per try (retries=2): each retry starts a new run only because the previous one FAILED
    assert [run.state for run in split_runs] == ["FAILED"] * 3
    assert sorted(failed_runs) == sorted(run.run_id for run in split_runs)
    alerts = [m["text"] for m in slack_webhook.messages if m["text"].startswith("Task failed")]
    assert len(alerts) == 1, slack_webhook.texts()
    assert "Task failed: flywheel_bucketed.infobase_split_and_bucket" in alerts[0]
    assert f"Glue job: {split_job}" in alerts[0]
    assert f"Glue run id: {split_runs[-1].run_id}" in alerts[0]
    assert "CloudWatch log group: test/log/error" in alerts[0]  # moto's LogGroupName + Glue's /error
    assert "ended FAILED" in alerts[0]


@pytest.mark.parametrize("reads_per_state", [2, 3], ids=["retry-finds-it-succeeded", "retry-finds-it-running"])
def test_retry_reattaches_to_the_run_it_started_instead_of_starting_another(dag_runner, prod, aws,
                                                                            reads_per_state):
    """Try 1 starts the run and fails while it is still running (its wait budget runs out after one
    check, as when a worker or triggerer dies); the retry finds the run id in the task state store and
    waits on that run (still running, or already succeeded, depending on how slow the run is)."""
    dag = load_flywheel_dag("flywheel_reports")
    fast_retries(dag, waiter_max_attempts=1)

    with slow_glue_runs(aws, reads_per_state=reads_per_state):
        result = dag_runner(dag, {})

    assert result.state == "success"
    assert result.try_number("generate_cleanrooms_report") >= 2  # the first try did fail
    (run,) = prod.job_runs()
    assert run.state == "SUCCEEDED"
    assert result.xcom("flywheel_reports", "generate_cleanrooms_report") == run.run_id


@cache
def unchanged_dag(dag_id):
    """Parsed once for the tests that do not change it."""
    return load_flywheel_dag(dag_id)


def part_tables_events(run_id):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                  .filter(AssetModel.name == "flywheel_part_tables", AssetEvent.source_run_id == run_id).all())
        return [event.extra for event in events]


def test_no_split_starts_before_the_snapshot_folder_exists(dag_runner, prod):
    dag = load_flywheel_dag("flywheel_partitioned")
    for sensor in (t for t in dag.tasks if t.task_id.startswith("wait_for_")):
        # Test pacing: poke from the worker for a second instead of deferring for 12 hours.
        sensor.deferrable, sensor.poke_interval, sensor.timeout = False, 0.2, 1

    result = dag_runner(dag, {"snapshot_dt": "2026-03-09"})  # seeded: 2026-03-01 only

    assert result.state == "failed"
    assert result.state_of("wait_for_infobase_split_and_part_snapshot") == "failed"
    assert result.state_of("infobase_split_and_part") == "upstream_failed"
    assert result.state_of("register_part_tables") == "upstream_failed"
    assert prod.job_runs() == []


def test_an_unknown_environment_fails_the_step_at_once_without_reaching_aws(dag_runner, aws, monkeypatch,
                                                                            slack_webhook):
    seed_prod_account(aws)
    monkeypatch.setenv("AIRFLOW_VAR_FLYWHEEL_ENV", "staging")

    result = dag_runner(load_flywheel_dag("flywheel_reports"), {})

    assert result.state == "failed"
    assert result.state_of("generate_cleanrooms_report") == "failed"
    assert result.try_number("generate_cleanrooms_report") == 1  # retries=2, none used
    assert FlywheelAccount(aws).job_runs() == []
    [alert] = [text for text in slack_webhook.texts() if text.startswith("Task failed")]
    assert "unknown flywheel environment 'staging'; expected one of ['dev', 'prod']" in alert


def test_no_part_table_to_repair_fails_the_listing_at_once(dag_runner, prod, slack_webhook):
    result = dag_runner(load_flywheel_dag("flywheel_partitioned"), {"tables_filter": ["ibe_99_z"]})

    assert result.state == "failed"
    assert result.state_of("list_part_tables") == "failed"
    assert result.try_number("list_part_tables") == 1
    assert result.state_of("publish_part_tables") == "upstream_failed"
    assert prod.athena_queries() == []
    [alert] = [text for text in slack_webhook.texts() if text.startswith("Task failed")]
    assert "no part_* tables matching ['ibe_99_z'] in Glue database omc_flywheel_prod" in alert


def test_reports_takes_no_conf_and_refuses_a_snapshot_date_at_once(dag_runner, prod, slack_webhook):
    """flywheel_reports reports on the tables as they are: a snapshot_dt (even a bad one) is not read as a
    setting but refused as a key the DAG does not take, before any Glue job starts."""
    dag = load_flywheel_dag("flywheel_reports")
    fast_retries(dag)

    result = dag_runner(dag, {"snapshot_dt": "2026-02-30"})

    assert result.state == "failed"
    assert result.try_number("generate_cleanrooms_report") == 1  # retries=2, none used
    assert prod.job_runs() == []
    [alert] = slack_webhook.texts()
    assert "unknown conf key 'snapshot_dt'; valid keys: none (this DAG takes no conf)" in alert


def with_pattern_only_snapshot_param(dag):
    """The DAG as an older deployment declared it: ``snapshot_dt`` checked by a pattern only, which lets
    2026-02-30 through at trigger time (a run triggered then and cleared now carries such a conf)."""
    from airflow.sdk import Param

    date_pattern = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
    old = Param("_NONE_", type="string", anyOf=[{"pattern": date_pattern}, {"const": "_NONE_"}])
    for holder in (dag, *dag.tasks):
        holder.params["snapshot_dt"] = old
    return dag


def test_a_bad_run_setting_that_reaches_the_run_fails_the_first_tasks_without_retry(dag_runner, prod,
                                                                                     slack_webhook):
    dag = with_pattern_only_snapshot_param(load_flywheel_dag("flywheel_bucketed"))
    fast_retries(dag)

    result = dag_runner(dag, {"snapshot_dt": "2026-02-30"})

    assert result.state == "failed"
    first = [task.task_id for task in dag.roots]
    assert {task: result.state_of(task) for task in first} == dict.fromkeys(first, "failed")
    assert {task: result.try_number(task) for task in first} == dict.fromkeys(first, 1)  # retries=2, none used
    assert prod.job_runs() == []
    [alert] = slack_webhook.texts()  # one refusal, one alert, however many first tasks refused it
    assert "snapshot_dt '2026-02-30' is not a calendar date" in alert


def test_a_tables_filter_the_repair_job_would_ignore_fails_the_first_tasks_at_once(dag_runner, prod,
                                                                                   slack_webhook):
    """Cross-field: the prepare-part-tables job repairs every table, so a tables_filter with it is refused
    (it would be silently ignored) before anything runs."""
    dag = load_flywheel_dag("flywheel_partitioned")
    fast_retries(dag)

    result = dag_runner(dag, {"repair_with": "prepare_part_tables_job", "tables_filter": ["ibe_01_a"]})

    assert result.state == "failed"
    first = [task.task_id for task in dag.roots]
    assert {task: result.state_of(task) for task in first} == dict.fromkeys(first, "failed")
    assert {task: result.try_number(task) for task in first} == dict.fromkeys(first, 1)
    assert prod.job_runs() == []
    assert prod.athena_queries() == []
    [alert] = slack_webhook.texts()
    assert "tables_filter narrows only repair_with=athena_msck" in alert
