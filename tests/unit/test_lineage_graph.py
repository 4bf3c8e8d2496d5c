"""``make lineage-graph``: the DOT graph drawn from captured OpenLineage events (file transport lines)."""

from __future__ import annotations

import json
import shutil

from scripts.lineage_graph import main, to_dot

EXTRACT = {"eventType": "COMPLETE", "job": {"namespace": "pipelines", "name": "opendental_nightly.extract"},
           "inputs": [{"namespace": "mysql://src:3306", "name": "opendental.patient"}],
           "outputs": [{"namespace": "mysql://replica:3306", "name": "replica.patient",
                        "outputFacets": {"outputStatistics": {"rowCount": 1200}}}]}
START = {**EXTRACT, "eventType": "START"}
NO_DATASETS = {"eventType": "COMPLETE", "job": {"name": "opendental_nightly.plan"}, "inputs": [], "outputs": []}


def test_datasets_and_tasks_become_nodes_and_edges():
    dot = to_dot([START, EXTRACT, EXTRACT, NO_DATASETS])
    assert '"mysql://src:3306/opendental.patient" -> "opendental_nightly.extract";' in dot
    assert '"opendental_nightly.extract" -> "mysql://replica:3306/replica.patient";' in dot
    assert "1,200 rows" in dot
    assert "opendental_nightly.plan" not in dot
    assert dot.count("->") == 2


def test_writes_the_dot_file_and_says_when_graphviz_is_missing(tmp_path, capsys, monkeypatch):
    events = tmp_path / "lineage.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in (START, EXTRACT)) + "\n")
    monkeypatch.setattr(shutil, "which", lambda name: None)

    assert main([str(events)]) == 0

    assert (tmp_path / "lineage.dot").read_text().startswith("digraph lineage {")
    assert "Graphviz `dot` is not installed" in capsys.readouterr().out


def test_no_events_is_one_clear_error(tmp_path, capsys):
    assert main([str(tmp_path / "missing.jsonl")]) == 1
    assert "make demo LINEAGE=1" in capsys.readouterr().err


def test_a_mapped_tasks_rows_are_summed_over_its_instances():
    instances = [{**EXTRACT, "run": {"runId": run_id}} for run_id in ("r0", "r1", "r1")]
    assert "2,400 rows" in to_dot(instances)
