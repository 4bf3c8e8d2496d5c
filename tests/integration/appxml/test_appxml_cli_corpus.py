"""The CLI as the runbook's users run it, and every shared sample through the staging loop, on real
PostgreSQL standing in for SQL Server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools.appxml import seed
from devtools.localdb import free_port
from pipelines.appxml import ddl
from pipelines.appxml.staging import StagingSpec, stage_partition
from pipelines.common.database.engines import engine_from_url
from pipelines.common.database.tables import TableName
from tests.integration.appxml.conftest import PROJECT_ROOT
from tests.support.appxml_checks import custdata_c14n, index_exists

pytestmark = pytest.mark.integration


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": f"{PROJECT_ROOT / 'plugins'}:{PROJECT_ROOT}", **(env or {})}
    return subprocess.run([sys.executable, "-m", "pipelines.appxml", *args], capture_output=True,
                          text=True, env=environment, cwd=PROJECT_ROOT, timeout=120)


def test_cli_stages_two_partitions_with_metrics_and_index_handling(appxml_db, tmp_path):
    url = appxml_db.db.url
    first = run_cli("--url", url, "--mod", "2", "--rem", "0", "--batch", "7", "--drop-index",
                    "--metrics", str(tmp_path / "appxml_0.json"))
    second = run_cli("--url", url, "--mod", "2", "--rem", "1", "--batch", "7", "--recreate-index",
                     "--metrics", str(tmp_path / "appxml_1.json"))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "rem=0/2 batch 1:" in first.stderr  # per-batch progress
    metrics = [json.loads((tmp_path / f"appxml_{rem}.json").read_text()) for rem in (0, 1)]
    assert sum(m["processed"] for m in metrics) == len(appxml_db.docs)
    assert {"processed", "duration_s", "rows_per_sec", "finished_at", "skipped"} <= set(metrics[0])
    assert sorted(appxml_db.staged()) == sorted(appxml_db.expected())
    assert index_exists(appxml_db.engine, TableName("dbo", "app_xml_staging"))


def test_cli_connection_failure_is_one_line_without_traceback():
    result = run_cli("--url", f"postgresql+psycopg://appxml:not-a-secret@127.0.0.1:{free_port()}/nowhere",
                     "--mod", "2", "--rem", "1")

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("appxml staging failed (rem=1/2): OperationalError:")
    assert "Traceback" not in result.stderr
    assert "not-a-secret" not in result.stderr


def test_cli_unknown_connection_id_is_one_line(tmp_path):
    result = run_cli("--conn-id", "mssql_appxml_missing", env={"AIRFLOW_HOME": str(tmp_path)})

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "appxml staging failed: connection 'mssql_appxml_missing' is not defined")


def test_every_shared_sample_is_staged_with_identical_custdata(database_factory, shared_corpus):
    db = database_factory("postgres")
    engine = engine_from_url(db.url)
    files = seed.corpus_files(shared_corpus)
    # Fresh, unique app_ids: file names repeat ids across product lines and one has none.
    rows = [(10_000 + i, path.read_bytes().decode("utf-8")) for i, path in enumerate(files)]
    seed.load_source(engine, seed.create_source_table(engine), rows)
    ddl.ensure_staging_table(engine, TableName("dbo", "app_xml_staging"))
    try:
        metrics = [stage_partition(engine, StagingSpec(mod=3, rem=rem, batch=16)) for rem in range(3)]
        with engine.connect() as conn:
            staged = dict(conn.exec_driver_sql('SELECT app_id, "app_XML" FROM dbo.app_xml_staging').all())
    finally:
        engine.dispose()

    malformed = [app_id for (app_id, _), path in zip(rows, files, strict=True) if path.name == "cc_bloat.xml"]
    assert sum(m.skipped["malformed"] for m in metrics) == len(malformed) == 1
    assert sorted(staged) == sorted(app_id for app_id, _ in rows if app_id not in malformed)
    by_id = dict(rows)
    for app_id, xml in staged.items():
        assert custdata_c14n(xml) == custdata_c14n(by_id[app_id]), app_id
    assert sum(m.id_mismatch for m in metrics) == len(staged)  # the new app_ids never match Request/@ID


def test_awkward_values_on_real_postgres(database_factory):
    """NVARCHAR-style text declaring UTF-16, a BOM with a UTF-8 declaration, NULL, empty, 2 MB."""
    import random

    from devtools.appxml.generator import provenir_document

    body = provenir_document(1, random.Random(1), target_bytes=500, bom=False).decode()
    big = provenir_document(5, random.Random(5), target_bytes=2_100_000).decode()
    rows = [(1, '<?xml version="1.0" encoding="utf-16"?>\r\n' + body),
            (2, "\ufeff" + '<?xml version="1.0" encoding="UTF-8"?>' + body.replace('ID="1"', 'ID="2"')),
            (3, None), (4, ""), (5, big), (6, body.replace("</Provenir>", ""))]
    db = database_factory("postgres")
    engine = engine_from_url(db.url)
    seed.load_source(engine, seed.create_source_table(engine), rows)
    ddl.ensure_staging_table(engine, TableName("dbo", "app_xml_staging"))
    try:
        metrics = stage_partition(engine, StagingSpec(batch=2))
        with engine.connect() as conn:
            staged = dict(conn.exec_driver_sql('SELECT app_id, "app_XML" FROM dbo.app_xml_staging').all())
    finally:
        engine.dispose()

    assert sorted(staged) == [1, 2, 5]
    assert custdata_c14n(staged[1]) == custdata_c14n(body)
    assert custdata_c14n(staged[5]) == custdata_c14n(big)
    assert metrics.skipped == {"empty": 2, "malformed": 1}
    assert metrics.id_mismatch == 0


def test_documents_with_a_dtd_are_counted_skips_and_the_partition_finishes(database_factory, tmp_path):
    """Issue 12's reproducer through the CLI on real PostgreSQL: the entity-declaring document once ended
    the worker with SIGSEGV; the external entity was staged as an unreadable document. Now both are
    ``dtd`` skips, nothing is read from disk, and the rows around them are staged."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    body = '<Provenir><Request ID="{0}"><CustData><application{1}</application></CustData></Request></Provenir>'
    rows = [(1, body.format(1, ">ok")),
            (2, '<!DOCTYPE Provenir [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                + body.format(2, ' note="&b;">')),
            (3, f'<!DOCTYPE Provenir [<!ENTITY x SYSTEM "{secret.as_uri()}">]>' + body.format(3, ">&x;")),
            (4, body.format(4, ">ok"))]
    db = database_factory("postgres")
    engine = engine_from_url(db.url)
    try:
        seed.load_source(engine, seed.create_source_table(engine), rows)
        result = run_cli("--url", db.url, "--batch", "2", "--metrics", str(tmp_path / "m.json"))
        with engine.connect() as conn:
            staged = dict(conn.exec_driver_sql('SELECT app_id, "app_XML" FROM dbo.app_xml_staging').all())
    finally:
        engine.dispose()

    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["skipped"] == {"dtd": 2}
    assert metrics["skipped_app_ids"] == {"dtd": [2, 3]}
    assert sorted(staged) == [1, 4]
    assert "TOPSECRET" not in result.stderr + result.stdout + "".join(staged.values())
