"""The public schema: hand-written business rules for the core tables, the generic cleaning transform for
the rest, checked value by value against raw."""

from __future__ import annotations

import pytest

from pipelines.opendental.config import load_settings
from pipelines.opendental.extract import extract_table
from pipelines.opendental.load import load_table
from pipelines.opendental.tasks import plan_tables
from pipelines.opendental.transform import transform_table
from tests.integration.opendental.odsupport import fixture_ddl, seed

pytestmark = pytest.mark.integration
TABLES = ["patient", "appointment", "procedurelog", "claimproc", "payment", "definition"]


@pytest.fixture
def loaded(stack):
    seed(stack.source, fixture_ddl(TABLES), rows=80)
    conn = stack.source.connect()
    conn.cursor().execute("UPDATE definition SET ItemValue = '  padded value  ' WHERE DefNum IN (1, 2)")
    conn.close()
    settings = load_settings()
    params = {"tables": TABLES, "force": False, "dry_run": False, "parallel": 1}
    for plan in plan_tables(params, settings):
        transform_table(load_table(extract_table(plan, settings), settings), settings)
    return stack


def age_on(birthdate, today):
    return today.year - birthdate.year - ((today.month, today.day) < (birthdate.month, birthdate.day))


def test_patient_statuses_decoded_age_derived_ssn_left_out(loaded):
    rows = loaded.pg_rows('SELECT r."PatStatus", r."Gender", r."Birthdate", p.pat_status_label, p.gender_label, '
                          "p.age_years, current_date FROM raw.patient r JOIN public.patient p "
                          'ON p.pat_num = r."PatNum"')
    labels = ["Patient", "NonPatient", "Inactive", "Archived", "Deleted", "Deceased", "Prospective"]
    assert len(rows) == 80
    for status, gender, birthdate, status_label, gender_label, age, today in rows:
        assert status_label == (labels[status] if status < len(labels) else "Unknown")
        assert gender_label == ({0: "Male", 1: "Female", 2: "Unknown", 3: "Other"}.get(gender, "Unknown"))
        assert age == (None if birthdate is None or birthdate > today else age_on(birthdate, today))
    assert any(r[2] is None for r in rows)  # zero birthdates arrived as NULL
    columns = {r[0] for r in loaded.pg_rows("SELECT column_name FROM information_schema.columns WHERE "
                                            "table_schema = 'public' AND table_name = 'patient'")}
    assert "ssn" not in columns
    assert "pat_num" in columns


def test_procedure_fees_and_status(loaded):
    rows = loaded.pg_rows('SELECT r."ProcFee", r."UnitQty", r."BaseUnits", r."Discount", r."ProcStatus", '
                          "p.gross_fee, p.net_fee, p.proc_status_label, p.is_complete FROM raw.procedurelog r "
                          'JOIN public.procedurelog p ON p.proc_num = r."ProcNum"')
    assert len(rows) == 80
    for fee, qty, base, discount, status, gross, net, label, complete in rows:
        assert float(gross) == pytest.approx(round(fee * max(qty + base, 1), 2), abs=0.006)
        assert float(net) == pytest.approx(round(fee * max(qty + base, 1) - discount, 2), abs=0.006)
        assert complete == (status == 2)
        assert (label == "Complete") == (status == 2)


def test_appointment_claimproc_payment_rules(loaded):
    for pattern, minutes, status, label in loaded.pg_rows(
            'SELECT r."Pattern", a.length_minutes, r."AptStatus", a.apt_status_label FROM raw.appointment r '
            'JOIN public.appointment a ON a.apt_num = r."AptNum"'):
        assert minutes == 5 * len(pattern or "")
        assert (label == "Broken") == (status == 5)
    for status, label, paid in loaded.pg_rows('SELECT r."Status", c.status_label, c.is_paid FROM raw.claimproc r '
                                              'JOIN public.claimproc c ON c.claim_proc_num = r."ClaimProcNum"'):
        assert paid == (status in (1, 4))
        assert (label == "Received") == (status == 1)
    refunds = loaded.pg_rows("SELECT pay_amt < 0, is_refund FROM public.payment")
    assert len(refunds) == 80
    assert all(a == b for a, b in refunds)


def test_generic_transform_snake_cases_and_trims(loaded):
    columns = [r[0] for r in loaded.pg_rows("SELECT column_name FROM information_schema.columns WHERE "
                                            "table_schema = 'public' AND table_name = 'definition' "
                                            "ORDER BY ordinal_position")]
    assert columns == ["def_num", "category", "item_order", "item_name", "item_value", "item_color", "is_hidden"]
    pairs = loaded.pg_rows('SELECT r."ItemValue", d.item_value FROM raw.definition r JOIN public.definition d '
                           'ON d.def_num = r."DefNum"')
    assert len(pairs) == 80
    assert all(cleaned == (raw.strip(" ") if raw is not None else None) for raw, cleaned in pairs)
    assert ("  padded value  ", "padded value") in pairs
