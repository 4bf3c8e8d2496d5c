"""Strategy per table and run order, from the discovery rules and the YAML overrides."""

from __future__ import annotations

import pytest

from pipelines.common.config import validate
from pipelines.opendental.config import CONFIG_FILE, Settings, TableOverride
from pipelines.opendental.errors import PlanError
from pipelines.opendental.plan import TablePlan, build_plan, choose_strategy, format_plan
from pipelines.opendental.schema import Column, TableSchema

BIGINT = Column("Num", "bigint", "bigint(20)", nullable=False)


def table(name, *cols, pk=("Num",), auto=True, size=0):
    key = Column(pk[0], "bigint", "bigint(20)", nullable=False, auto_increment=auto) if pk else None
    columns = ((key,) if key else ()) + tuple(cols)
    return TableSchema(name, columns, tuple(pk), estimated_rows=size // 100, data_length=size)


def ts(name, data_type="timestamp"):
    return Column(name, data_type, data_type)


SETTINGS = Settings()


def test_incremental_on_the_first_watermark_column_in_the_configured_order():
    schema = table("claimproc", ts("SecDateEntry", "date"), ts("DateCreated", "datetime"), ts("SecDateTEdit"))
    assert choose_strategy(schema, SETTINGS) == ("incremental", "SecDateTEdit")


def test_append_only_on_an_auto_increment_key_without_a_watermark():
    assert choose_strategy(table("definition", Column("ItemName", "varchar", "varchar(255)")), SETTINGS) == (
        "append_only", None)


def test_full_without_auto_increment_or_watermark():
    assert choose_strategy(table("fee", auto=False), SETTINGS) == ("full", None)


def test_no_primary_key_is_always_full_even_with_a_watermark_or_an_override():
    schema = table("preference", ts("DateTStamp"), pk=())
    settings = Settings(tables={"preference": TableOverride(strategy="incremental")})
    assert choose_strategy(schema, settings) == ("full", None)


def test_a_watermark_column_must_be_temporal():
    schema = table("x", Column("DateTStamp", "varchar", "varchar(20)"), Column("DateCreated", "date", "date"))
    assert choose_strategy(schema, SETTINGS) == ("incremental", "DateCreated")


def test_overrides_choose_strategy_and_watermark():
    schema = table("patient", ts("DateTStamp"), ts("SecDateEntry", "date"))
    settings = Settings(tables={"patient": TableOverride(strategy="full")})
    assert choose_strategy(schema, settings) == ("full", None)
    settings = Settings(tables={"patient": TableOverride(watermark="SecDateEntry")})
    assert choose_strategy(schema, settings) == ("incremental", "SecDateEntry")
    with pytest.raises(PlanError, match="patient: watermark column 'Nope'"):
        choose_strategy(schema, Settings(tables={"patient": TableOverride(watermark="Nope")}))


def test_order_core_tables_first_then_largest_then_log_tables_last():
    schemas = {s.name: s for s in [
        table("securitylog", size=900), table("commlog", size=50), table("fee", size=10),
        table("claim", size=500), table("payment", size=1), table("patient", size=2),
        table("procedurelog", size=3000), table("appointment"), table("claimproc"),
    ]}
    order = [p.table for p in build_plan(schemas, SETTINGS)]
    assert order == ["patient", "appointment", "procedurelog", "claimproc", "payment", "claim", "fee",
                     "securitylog", "commlog"]


def test_priority_override_and_exclude():
    schemas = {s.name: s for s in [table("patient"), table("fee", size=9), table("claim", size=5)]}
    settings = Settings(tables={"claim": TableOverride(priority=-1), "fee": TableOverride(exclude=True)})
    assert [p.table for p in build_plan(schemas, settings)] == ["claim", "patient"]
    # An excluded table still runs when asked for by name.
    assert [p.table for p in build_plan(schemas, settings, ["fee"])] == ["fee"]


def test_plan_carries_force_and_round_trips_through_xcom_dicts():
    plan = build_plan({"fee": table("fee", size=100)}, SETTINGS, ["fee"], force=True)[0]
    assert plan.force
    assert TablePlan.from_xcom(plan.to_xcom()) == plan
    assert "full (forced)" in format_plan([plan])


def test_yaml_overrides_are_validated():
    with pytest.raises(ValueError, match="table fee: strategy must be one of"):
        validate(Settings, {"tables": {"fee": {"strategy": "sometimes"}}}, CONFIG_FILE)
    with pytest.raises(ValueError, match="unknown keys"):
        validate(Settings, {"tables": {"fee": {"stratgy": "full"}}}, CONFIG_FILE)


def test_a_cron_left_in_the_settings_says_where_it_went():
    with pytest.raises(ValueError, match=r"schedule: cron is no longer a setting: .* dags/opendental_nightly"):
        validate(Settings, {"schedule": {"cron": "0 1 * * *"}}, CONFIG_FILE)


def test_project_config_parses():
    from pipelines.opendental.config import load_settings

    settings = load_settings()
    assert settings.timezone == "America/Chicago"
    assert settings.retries == 3
    assert {k: v.total_seconds() / 60 for k, v in settings.timeouts.items()} == {
        "extract": 30, "load": 45, "transform": 60}
    assert settings.priority_tables[:5] == ("patient", "appointment", "procedurelog", "claimproc", "payment")
