"""The runbook CLI on real PostgreSQL: the shared corpus staged as appxml_staging stages it, mapped with the
original contracts (read from ../shared/corpus/xml_mapping/, skipped when absent); exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pipelines.xml_mapping.cli import URL_ENV, main

pytestmark = pytest.mark.integration


def test_the_shared_corpus_maps_with_the_original_contracts(corpus_db, shared_corpus, tmp_path, capsys):
    mapping_db = corpus_db
    files = sorted((shared_corpus / "provenir").glob("*.xml"))
    contracts = shared_corpus / "xml_mapping"
    metrics_file = tmp_path / "metrics" / "rem0.json"
    argv = ["--url", mapping_db.db.url, "--contract", str(contracts / "mapping_contract_cc.json"),
            "--contract", str(contracts / "mapping_contract_rl.json"), "--mod", "2", "--rem", "0",
            "--batch", "25", "--metrics", str(metrics_file)]

    assert main(argv) == 0
    assert main([*argv[:-6], "--mod", "2", "--rem", "1", "--batch", "25"]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line["partition"] for line in printed] == ["rem=0/2", "rem=1/2"]
    assert sum(line["processed"] for line in printed) == 130
    log = mapping_db.log()
    assert len(log) == 130
    bloat = mapping_db.first_app_id + [path.name for path in files].index("cc_bloat.xml")
    failed = {app_id: entries for app_id, entries in log.items() if entries[0][0] == "failed"}
    # cc_bloat (extra content after the root) is the one document that does not parse; the rl document named
    # cc_ maps as rl when both contracts are loaded.
    assert failed == {bloat: [("failed", "parsing: the document is not well-formed XML")]}
    counts = mapping_db.counts()
    assert counts["app_base"] == 129
    assert counts["app_operational_cc"] == 109 and counts["app_operational_rl"] == 20  # noqa: PT018
    saved = json.loads(metrics_file.read_text())
    assert saved["partition"] == "rem=0/2"
    assert saved["rows_per_table"]["app_base"] == saved["succeeded"]

    assert main(argv) == 0  # a rerun maps nothing again
    assert mapping_db.counts() == counts


def test_exit_codes(mapping_db, tmp_path, monkeypatch):
    bad = tmp_path / "bad.json"
    bad.write_text('{"xml_application_path": "/a"}')
    monkeypatch.setenv(URL_ENV, mapping_db.db.url)

    assert main(["--contract", str(bad)]) == 1
    with pytest.raises(SystemExit) as usage:
        main(["--contract", str(bad), "--mod", "2"])
    assert usage.value.code == 2
    monkeypatch.delenv(URL_ENV)
    with pytest.raises(SystemExit) as no_url:
        main(["--contract", str(bad)])
    assert no_url.value.code == 2


def test_python_dash_m_runs_a_partition_with_the_example_contracts(mapping_db):
    from pipelines.common.paths import config_path

    completed = subprocess.run(
        [sys.executable, "-m", "pipelines.xml_mapping", "--contract", str(config_path("xml_mapping/example_cc.json")),
         "--contract", str(config_path("xml_mapping/example_rl.json")), "--batch", "10"],
        env={**__import__("os").environ, URL_ENV: mapping_db.db.url}, capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr[-2000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["succeeded"] == mapping_db.documents
    assert mapping_db.db.url.split("@")[0] not in completed.stderr  # no credentials in the output
