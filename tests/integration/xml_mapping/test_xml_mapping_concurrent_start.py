"""Workers started at the same moment on an empty target (the runbook's PowerShell loop): the schema and
tables are created once, under a lock, and every application is logged exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devtools.xml_mapping.generator import staged_corpus
from devtools.xml_mapping.seed import stage_documents
from pipelines.common.database.engines import engine_from_url
from pipelines.common.paths import config_path
from pipelines.xml_mapping.cli import URL_ENV

pytestmark = pytest.mark.integration

WORKERS = 4
ROUNDS = 10
DOCUMENTS = 24
FIRST_APP_ID = 9000
START_DEADLINE_S = 120
RUN_DEADLINE_S = 600
# Each worker imports everything first, says so with its ready file, then waits for the start file: all four
# reach the schema step together instead of one import time apart.
WAIT_THEN_RUN = """
import sys, time
from pathlib import Path
from pipelines.xml_mapping.cli import main
ready, start, deadline = Path(sys.argv[1]), Path(sys.argv[2]), time.monotonic() + float(sys.argv[3])
ready.touch()
while not start.exists():
    if time.monotonic() > deadline:
        sys.exit("the start file never appeared")
    time.sleep(0.005)
sys.exit(main(sys.argv[4:]))
"""


@pytest.fixture
def empty_target(database_factory):
    """A database whose staging table holds generated documents, and no target schema yet."""
    db = database_factory("postgres")
    engine = engine_from_url(db.url)
    stage_documents(engine, ((app_id, body) for app_id, _, body in
                             staged_corpus(DOCUMENTS, seed=5, first_app_id=FIRST_APP_ID)))
    yield db, engine
    engine.dispose()


def start_workers(url: str, directory: Path) -> list[subprocess.Popen]:
    """Four workers, released together once all of them are ready."""
    contracts = [arg for name in ("example_cc.json", "example_rl.json")
                 for arg in ("--contract", str(config_path(f"xml_mapping/{name}")))]
    env = {**os.environ, URL_ENV: url}
    directory.mkdir()
    start = directory / "start"
    workers = [subprocess.Popen([sys.executable, "-c", WAIT_THEN_RUN, str(directory / f"ready-{rem}"), str(start),
                                 str(START_DEADLINE_S), *contracts, "--mod", str(WORKERS), "--rem", str(rem),
                                 "--batch", "5"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for rem in range(WORKERS)]
    deadline = time.monotonic() + START_DEADLINE_S
    while len(list(directory.glob("ready-*"))) < WORKERS and time.monotonic() < deadline:
        if any(worker.poll() is not None for worker in workers):
            break  # a worker died while importing: its exit code says so below
        time.sleep(0.05)
    start.touch()
    return workers


def test_four_workers_started_at_once_on_an_empty_target_log_every_application_once(empty_target, tmp_path):
    db, engine = empty_target
    for round_number in range(ROUNDS):
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS migration CASCADE")
        workers = start_workers(db.url, tmp_path / f"round-{round_number}")
        outcomes = [(worker.wait(timeout=RUN_DEADLINE_S), worker.communicate()[1]) for worker in workers]

        failed = [(rem, code, err.strip().splitlines()[-1:]) for rem, (code, err) in enumerate(outcomes) if code]
        assert failed == [], f"round {round_number}"
        with engine.connect() as conn:
            logged = conn.exec_driver_sql("SELECT app_id, COUNT(*), MIN(status) FROM migration.processing_log "
                                          "GROUP BY app_id ORDER BY app_id").all()
            based = conn.exec_driver_sql("SELECT COUNT(*) FROM migration.application").scalar()
        assert [tuple(row) for row in logged] == \
            [(app_id, 1, "success") for app_id in range(FIRST_APP_ID, FIRST_APP_ID + DOCUMENTS)], round_number
        assert based == DOCUMENTS
