"""Every table of the shared OpenDental DDL (62 real tables, loaded as-is) goes through extract, load,
transform and validation with generated rows, then an incremental pass; values equal stage to stage.
Skipped when the shared corpus is not checked out next to the project."""

from __future__ import annotations

import pytest

from devtools.opendental import generator
from pipelines.opendental.config import load_settings
from pipelines.opendental.extract import extract_table
from pipelines.opendental.load import load_table
from pipelines.opendental.tasks import plan_tables
from pipelines.opendental.transform import transform_table
from pipelines.opendental.validation import validate_table
from tests.integration.opendental.odsupport import CORE_TABLES, SHARED_DDL, differences, seed

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not SHARED_DDL.is_dir(), reason="shared OpenDental DDL corpus not present"),
]
PARAMS = {"tables": None, "force": False, "dry_run": False, "parallel": 1}


def run_all(run_id):
    settings = load_settings()
    results = []
    for plan in plan_tables(PARAMS, settings):
        extracted = extract_table(plan, settings)
        results.append(validate_table(transform_table(load_table(extracted, settings), settings), run_id))
    return {r.table: r for r in results}


def test_every_shared_table_round_trips(stack):
    tables = seed(stack.source, generator.file_statements(sorted(SHARED_DDL.glob("*.sql"))), rows=12)
    assert len(tables) >= 60

    first = run_all("first")

    excluded = set(load_settings().tables)  # e.g. securityloghash (see include/config)
    assert set(first) == set(tables) - excluded
    assert list(first)[:5] == CORE_TABLES
    assert next(t for t in reversed(list(first))).endswith("log")
    strategies = {r.strategy for r in first.values()}
    assert {"incremental", "append_only"} <= strategies
    for table, result in first.items():
        assert stack.counts(table) == dict.fromkeys(("source", "replica", "raw", "public"), 12), table
        assert result.mode == "full"
    problems = [p for table in first for p in differences(stack, table, limit=2)]
    assert problems == []

    second = run_all("second")

    assert {r.mode for r in second.values()} <= {"incremental", "append_only", "full"}
    assert all(r.stages["extract"].rows in (0, 1, 2, 12) for r in second.values())
    assert sum(r.mode != "full" for r in second.values()) >= 40
