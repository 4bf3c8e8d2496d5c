"""Business-total checks on real MariaDB and PostgreSQL: totals that agree are recorded as such; a total that
drifts (public edited, or a source row changed in place without its watermark moving, which the nightly
copy does not follow) fails the table's validation naming the check, the day and both totals, and the
failing day stays in etl_business_checks."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pendulum
import pytest

from pipelines.common.config import ConfigError
from pipelines.common.paths import INCLUDE_DIR_ENV
from pipelines.opendental.checks import check_tally
from pipelines.opendental.config import load_settings
from pipelines.opendental.errors import BusinessCheckFailed
from pipelines.opendental.extract import extract_table
from pipelines.opendental.load import load_table
from pipelines.opendental.stages import run_stage
from pipelines.opendental.summary import log_summary
from pipelines.opendental.tasks import plan_tables
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import validate_table
from tests.integration.opendental.odsupport import fixture_ddl, include_with, seed

pytestmark = pytest.mark.integration
TABLES = ["procedurelog", "payment", "claimproc"]
CHECKS = {"procedurelog": "completed_production", "payment": "payments", "claimproc": "insurance_paid"}
RESULTS = ("SELECT table_name, check_name, day, source_total, public_total, ok FROM etl_business_checks "
           "WHERE run_id = %s ORDER BY check_name, day")


@pytest.fixture
def transformed(stack):
    """The three tables copied through public, their business dates spread over the last 5 days (before
    today in the DAG's time zone, as the checks count it) and half the rows in the checked statuses."""
    seed(stack.source, fixture_ddl(TABLES), rows=60)
    today = pendulum.now(load_settings().timezone).date()
    conn = stack.source.connect()
    cur = conn.cursor()
    # DateTStamp/SecDateTEdit kept: ON UPDATE would move them, and only the dates matter here.
    cur.execute("UPDATE procedurelog SET ProcDate = %s - INTERVAL ProcNum %% 5 DAY, ProcStatus = 1 + ProcNum %% 2,"
                " DateTStamp = DateTStamp", [today - timedelta(days=1)])
    cur.execute("UPDATE payment SET PayDate = %s - INTERVAL PayNum %% 5 DAY, SecDateTEdit = SecDateTEdit",
                [today - timedelta(days=1)])
    cur.execute("UPDATE claimproc SET DateCP = %s - INTERVAL ClaimProcNum %% 5 DAY, "
                "Status = ELT(1 + ClaimProcNum %% 3, 0, 1, 4), SecDateTEdit = SecDateTEdit",
                [today - timedelta(days=1)])
    conn.close()
    settings = load_settings()
    params = {"tables": TABLES, "force": False, "dry_run": False, "parallel": 1}
    runs = {plan.table: transform_table(load_table(extract_table(plan, settings), settings), settings)
            for plan in plan_tables(params, settings)}
    return stack, runs


def test_agreeing_totals_pass_and_every_day_is_recorded(transformed):
    stack, runs = transformed

    validated = [validate_table(run, "agree") for run in runs.values()]

    rows = stack.mysql_rows(stack.replica, RESULTS, ["agree"])
    assert {(table, check) for table, check, *_ in rows} == set(CHECKS.items())
    assert len(rows) == 15  # 5 days per check
    assert all(ok == 1 for *_, ok in rows)
    production = stack.mysql_rows(stack.source, "SELECT ProcDate, SUM(ProcFee) FROM procedurelog WHERE ProcStatus = 2 "
                                                "GROUP BY ProcDate")
    recorded = {day: (source, public) for _, check, day, source, public, _ in rows if check == "completed_production"}
    assert set(recorded) == {day for day, _ in production}
    for day, total in production:
        assert float(recorded[day][0]) == pytest.approx(total, abs=1e-6)
        assert abs(recorded[day][0] - recorded[day][1]) <= Decimal("0.01") + Decimal("0.0001") * abs(recorded[day][0])
    assert check_tally("agree") == {table: (1, 0) for table in TABLES}
    summary = log_summary(None, validated, check_tally("agree"))
    assert {row["table"]: (row["validated"], row["checks"]) for row in summary} == {
        table: (True, {"passed": 1, "failed": 0}) for table in TABLES}


def drift_public(stack):
    with stack.analytics.connect() as conn:
        conn.execute("UPDATE public.procedurelog SET proc_fee = proc_fee + 1000 WHERE proc_num = "
                     "(SELECT min(proc_num) FROM public.procedurelog WHERE proc_status = 2)")


def drift_source(stack):
    """OpenDental's own drift: a completed procedure set back in place, its DateTStamp left where it was."""
    conn = stack.source.connect()
    conn.cursor().execute("UPDATE procedurelog SET ProcStatus = 1, DateTStamp = DateTStamp WHERE ProcNum = "
                          "(SELECT n FROM (SELECT MIN(ProcNum) AS n FROM procedurelog WHERE ProcStatus = 2) AS m)")
    conn.close()


@pytest.mark.parametrize("drift", [drift_public, drift_source])
def test_a_drifting_total_fails_validation_naming_check_day_and_totals(transformed, drift):
    stack, runs = transformed
    validate_table(runs["procedurelog"], "before")
    before = {day: total for _, check, day, total, _, _ in stack.mysql_rows(stack.replica, RESULTS, ["before"])}
    day = stack.mysql_rows(stack.source, "SELECT ProcDate FROM procedurelog WHERE ProcStatus = 2 ORDER BY ProcNum "
                                         "LIMIT 1")[0][0]
    drift(stack)

    with pytest.raises(BusinessCheckFailed) as error:
        run_stage("validation", "procedurelog", lambda: validate_table(runs["procedurelog"], "drifted"))

    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"table procedurelog: business check completed_production failed on {day}: source=")
    failing = [r for r in stack.mysql_rows(stack.replica, RESULTS, ["drifted"]) if not r[5]]
    assert [(table, check, d) for table, check, d, *_ in failing] == [("procedurelog", "completed_production", day)]
    source_total, public_total = failing[0][3], failing[0][4]
    assert abs(source_total - public_total) > Decimal(100)  # 1000 added in public, or one fee gone at the source
    source_sum = stack.mysql_rows(stack.source, "SELECT ROUND(SUM(ProcFee), 6) FROM procedurelog WHERE "
                                                "ProcStatus = 2 AND ProcDate = %s", [day])[0][0]
    public_sum = stack.pg_rows("SELECT sum(proc_fee) FROM public.procedurelog WHERE proc_status = 2 AND "
                               "proc_date = %s", [day])[0][0]
    assert (source_total, public_total) == (pytest.approx(Decimal(str(source_sum))), public_sum)
    assert f"source={source_total.normalize():f} public={public_total.normalize():f}, tolerance 0.01 or 0.01%" \
        in message
    assert before[day] == (public_total if drift is drift_source else source_total)
    verdict = stack.mysql_rows(stack.replica, "SELECT ok, problem FROM etl_run_validation WHERE run_id = 'drifted'")
    assert verdict == [(0, message)]
    assert check_tally("drifted") == {"procedurelog": (0, 1)}


def test_a_bad_declaration_in_the_yaml_is_one_line_naming_the_key(tmp_path, monkeypatch):
    include = include_with(tmp_path, business_checks={"payments": {"table": "payment", "sum": "PayAmt",
                                                                    "day": "PayDate", "tolerance": {"percent": 1}}})
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(include))
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value) == ("opendental.yaml: business_checks.payments.tolerance.percent: "
                                "Extra inputs are not permitted")


def test_in_the_nightly_dag_the_alert_names_the_check_day_and_totals(stack, nightly_dag, dag_runner, slack_webhook):
    seed(stack.source, fixture_ddl(["procedurelog"]), rows=40)
    today = pendulum.now(load_settings().timezone).date()
    conn = stack.source.connect()
    # Change stamps an hour apart: the next incremental run re-reads only the newest row (ProcNum 1).
    conn.cursor().execute("UPDATE procedurelog SET ProcDate = %s, ProcStatus = 1 + ProcNum %% 2, DateTStamp = "
                          "'2026-01-01 00:00:00' - INTERVAL ProcNum HOUR", [today - timedelta(days=1)])
    conn.close()
    run = {"allow_business_hours": True, "force": False, "dry_run": False, "parallel": 1, "tables": ["procedurelog"]}
    assert dag_runner(nightly_dag, run).state == "success"
    with stack.analytics.connect() as pg:
        # ProcNum 3: completed (odd numbers are), and not re-read by the next incremental run.
        pg.execute("UPDATE public.procedurelog SET proc_fee = proc_fee + 1000 WHERE proc_num = 3")

    result = dag_runner(nightly_dag, run)

    assert result.state == "failed"
    assert result.state_of("copy_table", 0) == "failed"
    texts = [m["text"] for m in slack_webhook.messages if m["text"].startswith("Task failed")]
    day = today - timedelta(days=1)
    assert any("copy_table [procedurelog]" in t and f"business check completed_production failed on {day}: source="
               in t and " public=" in t for t in texts), texts
    recorded = stack.mysql_rows(stack.replica, "SELECT ok FROM etl_business_checks WHERE run_id = %s",
                                [result.run_id])
    assert recorded == [(0,)]
