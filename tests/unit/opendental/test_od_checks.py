"""Business-total checks: the YAML declaration (validated at load, one-line errors naming the bad key), the
per-day SQL it gives on the source and on public, and the tolerance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from devtools.opendental import tables as project_tables
from pipelines.common.config import ConfigError, validate
from pipelines.opendental.checks import compare
from pipelines.opendental.checkspec import BusinessCheck, Tolerance, checks_for
from pipelines.opendental.config import Settings, load_settings
from pipelines.opendental.identifiers import snake_case

PRODUCTION = {"table": "procedurelog", "sum": "ProcFee", "day": "ProcDate", "where": {"ProcStatus": 2}, "days": 30}


def settings_with(**checks) -> Settings:
    return validate(Settings, {"business_checks": checks}, "opendental.yaml")


def test_the_project_declares_production_payment_and_claim_checks_on_real_columns():
    checks = load_settings().business_checks
    assert {(c.table, c.sum, c.day) for c in checks.values()} == {
        ("procedurelog", "ProcFee", "ProcDate"), ("payment", "PayAmt", "PayDate"), ("claimproc", "InsPayAmt", "DateCP")}
    for check in checks.values():
        columns = {name for name, _ in project_tables.TABLES[check.table].columns}
        assert {check.sum, check.day, *check.where} <= columns


def test_source_sql_uses_the_declared_names_and_passes_every_value_as_a_parameter():
    check = settings_with(production=PRODUCTION).business_checks["production"]
    sql, params = check.source_query(date(2026, 3, 30))
    assert sql == ("SELECT `ProcDate`, SUM(`ProcFee`) FROM `procedurelog` WHERE `ProcDate` BETWEEN %s AND %s AND "
                   "`ProcStatus` IN (%s) GROUP BY `ProcDate` ORDER BY `ProcDate`")
    assert params == [date(2026, 3, 1), date(2026, 3, 30), 2]


def test_public_sql_uses_the_lowercase_table_and_snake_case_columns():
    check = BusinessCheck(table="claimproc", sum="InsPayAmt", day="DateCP", where={"Status": [1, 4]}, days=1)
    sql, params = check.public_query(date(2026, 3, 30))
    assert sql == ('SELECT "date_cp", SUM("ins_pay_amt") FROM "public"."claimproc" WHERE "date_cp" BETWEEN %s AND %s '
                   'AND "status" IN (%s, %s) GROUP BY "date_cp" ORDER BY "date_cp"')
    assert params == [date(2026, 3, 30), date(2026, 3, 30), 1, 4]
    assert snake_case("InsPayAmt") == "ins_pay_amt"


def test_checks_are_matched_to_their_table_case_insensitively():
    checks = settings_with(production=PRODUCTION, pay={"table": "payment", "sum": "PayAmt", "day": "PayDate"})
    assert list(checks_for(checks.business_checks, "ProcedureLog")) == ["production"]
    assert checks_for(checks.business_checks, "patient") == {}


@pytest.mark.parametrize(("declaration", "message"), [
    ({**PRODUCTION, "sume": "ProcFee"}, r"business_checks\.production\.sume: Extra inputs are not permitted"),
    ({**PRODUCTION, "sum": "ProcFee; DROP TABLE x"}, r"business_checks\.production\.sum: column or table"),
    ({k: v for k, v in PRODUCTION.items() if k != "day"}, r"business_checks\.production\.day: Field required"),
    ({**PRODUCTION, "where": {"ProcStatus": []}}, r"business_checks\.production\.where: where ProcStatus: an empty"),
    ({**PRODUCTION, "where": {"Proc Status": 2}}, r"business_checks\.production\.where: where column"),
    ({**PRODUCTION, "days": 0}, r"business_checks\.production\.days: Input should be greater than or equal to 1"),
    ({**PRODUCTION, "tolerance": {"absolute": -1}}, r"business_checks\.production\.tolerance\.absolute: Input should"),
])
def test_a_bad_declaration_is_one_line_naming_the_key(declaration, message):
    with pytest.raises(ConfigError, match=r"^opendental\.yaml: " + message) as error:
        settings_with(production=declaration)
    assert "\n" not in str(error.value)


def test_a_check_name_must_be_an_identifier():
    with pytest.raises(ConfigError, match=r"^opendental\.yaml: business_checks: business check name 'a b'"):
        settings_with(**{"a b": PRODUCTION})


def test_tolerance_absolute_or_relative_to_the_larger_total():
    tolerance = Tolerance(absolute=Decimal("0.01"), relative=Decimal("0.0001"))
    assert tolerance.allows(Decimal("100.004"), Decimal("100.00"))
    assert tolerance.allows(Decimal("20000.00"), Decimal("20001.99"))  # within 0.01% of 20001.99
    assert not tolerance.allows(Decimal("20000.00"), Decimal("20002.50"))
    assert not Tolerance().allows(Decimal("1.00"), Decimal("1.02"))


def test_a_day_missing_on_one_side_counts_as_zero_there():
    check = BusinessCheck(**PRODUCTION)
    day1, day2 = date(2026, 3, 1), date(2026, 3, 2)
    results = compare("production", check, {day1: Decimal("5.00"), day2: Decimal("7.25")}, {day1: Decimal("5.00")})
    assert [(r.day, r.source_total, r.public_total, r.ok) for r in results] == [
        (day1, Decimal("5.00"), Decimal("5.00"), True), (day2, Decimal("7.25"), Decimal(0), False)]
    assert results[1].problem("procedurelog") == (
        "table procedurelog: business check production failed on 2026-03-02: source=7.25 public=0")
