"""Param checks of the DAG's plan, metrics and their aggregate, CLI argument errors, the generator."""

from __future__ import annotations

import random

import pytest

from devtools.appxml import generator
from pipelines.appxml import cli, plan
from pipelines.appxml.errors import StagingError
from pipelines.appxml.metrics import MAX_IDS_PER_REASON, PartitionMetrics, aggregate, format_table
from pipelines.appxml.reduce import MALFORMED, Reduced

PARAMS = {"workers": 4, "batch": 100, "limit": 0, "remainders": None}


def test_plan_covers_every_remainder_or_only_the_requested_ones():
    assert [entry["rem"] for entry in plan.plan_partitions(PARAMS)] == [0, 1, 2, 3]
    assert plan.plan_partitions({**PARAMS, "remainders": [3, 1]}) == [
        {"mod": 4, "rem": 1, "batch": 100, "limit": 0}, {"mod": 4, "rem": 3, "batch": 100, "limit": 0}]


@pytest.mark.parametrize(("params", "message"), [
    ({"remainders": [1, 4]}, r"remainders \[4\] lie outside 0..3 for workers=4"),
    ({"workers": 0}, "workers must be at least 1"),
    ({"batch": 0}, "batch must be at least 1"),
    ({"limit": -3}, "limit must be 0"),
])
def test_plan_refuses_bad_params(params, message):
    with pytest.raises(StagingError, match=message):
        plan.plan_partitions({**PARAMS, **params})


def test_metrics_keep_at_most_twenty_ids_per_reason_and_no_content():
    metrics = PartitionMetrics(mod=2, rem=1, batch=50)
    results = [Reduced(i, skip_reason=MALFORMED) for i in range(30)] + [Reduced(99, xml="<Provenir/>",
                                                                                id_mismatch=True)]
    metrics.record_batch(results, source_bytes=1000, staged_bytes=11, last_app_id=99)
    metrics.finish(2.0)

    data = metrics.to_dict()

    assert data["skipped"] == {MALFORMED: 30}
    assert len(data["skipped_app_ids"][MALFORMED]) == MAX_IDS_PER_REASON
    assert data["id_mismatch"] == 1
    assert data["id_mismatch_app_ids"] == [99]
    assert data["processed"] == 31
    assert data["staged"] == 1
    assert data["rows_per_sec"] == 15.5
    assert "<Provenir" not in repr(data)


def test_aggregate_sums_partitions_and_tables_them():
    parts = []
    for rem, processed in ((0, 10), (1, 30)):
        metrics = PartitionMetrics(mod=2, rem=rem, batch=5)
        metrics.record_batch([Reduced(i, xml="x") for i in range(processed - 1)] + [Reduced(0, skip_reason="empty")],
                             source_bytes=processed * 100, staged_bytes=processed, last_app_id=processed)
        metrics.finish(processed / 10)
        parts.append(metrics.to_dict())

    totals = aggregate(parts)

    assert totals["processed"] == 40
    assert totals["staged"] == 38
    assert totals["skipped"] == {"empty": 2}
    assert totals["duration_s"] == 3.0
    assert totals["rows_per_sec"] == 13.3
    assert totals["source_bytes"] == 4000
    assert format_table(parts).splitlines()[2].split() == ["rem=0/2", "10", "9", "1", "10.0", "0.0", "1.0"]


def test_aggregate_says_the_workers_of_the_run_and_the_partitions_it_ran():
    metrics = PartitionMetrics(mod=4, rem=2, batch=5)
    metrics.finish(1.0)

    totals = aggregate([metrics.to_dict()])

    assert (totals["workers"], totals["partitions_run"]) == (4, 1)


@pytest.mark.parametrize(("argv", "message"), [
    (["--url", "sqlite://", "--mod", "4"], "--mod and --rem go together"),
    (["--url", "sqlite://", "--rem", "1"], "--mod and --rem go together"),
    (["--url", "sqlite://", "--mod", "4", "--rem", "4"], "rem must lie in 0..3"),
    (["--url", "sqlite://", "--batch", "-1"], "batch must be at least 1"),
    (["--mod", "2", "--rem", "0"], "give --url or --conn-id (or set APPXML_STAGING_URL)"),
])
def test_cli_argument_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)

    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]


def test_generator_is_deterministic_and_reaches_two_megabytes():
    first = [doc.body for doc in generator.synthetic_corpus(20, seed=4)]
    assert first == [doc.body for doc in generator.synthetic_corpus(20, seed=4)]
    big = generator.provenir_document(1, random.Random(1), product="rl", target_bytes=2_000_000)
    assert 2_000_000 < len(big) < 2_200_000
    assert big.startswith(generator.BOM)
    assert b"<IL_application" in big
    assert b"ResponseCode=" in big
    assert b"<queues>" in big
