"""fileload_insight.yaml validation: disjoint policies, distinct databases, identifiers, one-line errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from pipelines.common.paths import INCLUDE_DIR_ENV
from pipelines.fileload_insight.config import load_settings
from pipelines.fileload_insight.errors import PartitionConfigError
from pipelines.fileload_insight.pools import merged_pools, render
from tests.fixtures.fileload_insight.partitions import (
    include_with_partitions,
    load_partitions,
    partition_entry,
    partitions_document,
    write_partitions,
)

ROOT = Path(__file__).resolve().parents[3]


def document(tmp_path: Path) -> dict:
    return partitions_document({
        "a": partition_entry("a", "conn_a", "outcomes_a", tmp_path, [1, 2, 3]),
        "b": partition_entry("b", "conn_b", "outcomes_b", tmp_path, [4, 5, 6]),
    }, tmp_path / "locks")


def error_of(data: dict) -> str:
    with pytest.raises(PartitionConfigError) as caught:
        load_partitions(data)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_committed_partitions_file_is_valid():
    config = load_settings(ROOT / "include" / "config" / "fileload_insight.yaml")

    assert [p.name for p in config] == ["a", "b"]
    assert config.partitions["b"].outcomes_identification_db == "OutcomesIdentification_B"
    assert [step.name for step in config.partitions["a"].insight.steps] == ["run_insight", "push_policies"]


def test_committed_pools_file_matches_the_partitions_file():
    config = load_settings(ROOT / "include" / "config" / "fileload_insight.yaml")
    pools_file = ROOT / "include" / "config" / "pools.json"

    assert pools_file.read_text() == render(merged_pools(json.loads(pools_file.read_text()), config))
    assert {name for name in json.loads(pools_file.read_text()) if name.startswith("partition_")} == {
        "partition_a", "partition_b"}


def test_merging_pools_keeps_other_families_and_drops_removed_partitions(tmp_path):
    config = load_partitions(document(tmp_path))
    existing = {"flywheel_glue": {"slots": 4, "description": "x"}, "partition_old": {"slots": 1, "description": "y"}}

    merged = merged_pools(existing, config)

    assert set(merged) == {"flywheel_glue", "partition_a", "partition_b"}
    assert merged["flywheel_glue"] == existing["flywheel_glue"]
    assert merged["partition_a"]["slots"] == 1


def test_shared_policy_is_rejected(tmp_path):
    data = document(tmp_path)
    data["partitions"]["b"]["policies"] = [3, 4]

    assert "policy 3 is in partitions a and b" in error_of(data)


def test_shared_database_on_the_same_connection_is_rejected(tmp_path):
    data = document(tmp_path)
    data["partitions"]["b"]["conn_id"] = "conn_a"
    data["partitions"]["b"]["outcomes_identification_db"] = "outcomes_a"

    assert "database conn_a/outcomes_a is in partitions a and b" in error_of(data)


def test_same_database_names_on_another_host_are_allowed(tmp_path):
    data = document(tmp_path)
    data["partitions"]["b"]["member_repository_db"] = data["partitions"]["a"]["member_repository_db"]
    data["partitions"]["b"]["outcomes_identification_db"] = "outcomes_a"

    config = load_partitions(data)

    assert config.partitions["b"].outcomes_identification_db == "outcomes_a"


def test_a_partition_needs_two_different_databases(tmp_path):
    data = document(tmp_path)
    data["partitions"]["a"]["member_repository_db"] = "outcomes_a"

    assert "both databases are outcomes_a" in error_of(data)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("partitions", "a", "outcomes_identification_db"), "Outcomes; DROP", "is not an identifier"),
        (("partitions", "a", "conn_id"), "conn a", "is not an identifier"),
        (("partitions", "a", "policies"), [], "at least 1 item"),
        (("partitions", "a", "fileload", "argv"), ["run", "{password}"], "unknown placeholder {password}"),
        (("partitions", "a", "fileload", "env"), {"DB_PASSWORD": "x"}, "come from the Airflow connection"),
        (("partitions", "a", "surprise"), 1, "Extra inputs are not permitted"),
        (("task_retries",), 0, "greater than or equal to 1"),
    ],
)
def test_bad_values_are_named_in_one_line(tmp_path, path, value, expected):
    data = copy.deepcopy(document(tmp_path))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    message = error_of(data)

    assert expected in message
    assert ".".join(path[:2]) in message or path[0] in message


def test_partition_names_must_be_identifiers(tmp_path):
    data = document(tmp_path)
    data["partitions"]["B-2"] = data["partitions"].pop("b")

    assert "partition name 'B-2'" in error_of(data)


def test_duplicate_insight_steps_are_rejected(tmp_path):
    data = document(tmp_path)
    steps = data["partitions"]["a"]["insight"]["steps"]
    steps[1]["name"] = steps[0]["name"]

    assert "duplicate step names: run_insight" in error_of(data)


def test_yaml_anchors_under_x_keys_are_allowed(tmp_path):
    text = (ROOT / "include" / "config" / "fileload_insight.yaml").read_text()

    assert "x-fileload: &fileload" in text
    assert load_settings(write_partitions(tmp_path / "p.yaml", document(tmp_path))).partitions["a"]


def test_unreadable_and_malformed_files_give_one_line(tmp_path):
    with pytest.raises(PartitionConfigError, match=r"^missing\.yaml: cannot read the file"):
        load_settings(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("partitions: [a\n  b: 1\n")
    with pytest.raises(PartitionConfigError, match=r"broken.yaml: not valid YAML at line \d"):
        load_settings(broken)


def test_the_include_dir_setting_moves_the_partitions_file(tmp_path, monkeypatch):
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(include_with_partitions(tmp_path, document(tmp_path))))

    assert [p.name for p in load_settings()] == ["a", "b"]
    assert load_settings().partitions["b"].outcomes_identification_db == "outcomes_b"
    monkeypatch.delenv(INCLUDE_DIR_ENV)
    assert load_settings().partitions["b"].outcomes_identification_db == "OutcomesIdentification_B"


def test_lockfile_is_qualified_by_partition(tmp_path):
    config = load_partitions(document(tmp_path))

    assert config.lockfile(config.partitions["b"]) == tmp_path / "locks" / "pup_fileload.b.lock"


def test_pools_cli_writes_merges_and_checks(tmp_path, monkeypatch, capsys):
    from pipelines.fileload_insight.cli import main

    monkeypatch.setenv(INCLUDE_DIR_ENV, str(include_with_partitions(tmp_path, document(tmp_path))))
    pools_file = tmp_path / "pools.json"
    pools_file.write_text('{"opendental_replica": {"slots": 2, "description": "kept"}}')

    assert main(["pools", "--check", "--pools-file", str(pools_file)]) == 1
    assert main(["pools", "--pools-file", str(pools_file)]) == 0
    assert main(["pools", "--check", "--pools-file", str(pools_file)]) == 0

    assert sorted(json.loads(pools_file.read_text())) == ["opendental_replica", "partition_a", "partition_b"]
    assert "out of date" in capsys.readouterr().err
