#!/usr/bin/env python
"""``make bench-opendental``: the OpenDental pipeline on a big ``procedurelog`` against the usual tools.

  1. a ``procedurelog`` of --rows rows (the shared OpenDental DDL when present, else the project's
     fixture DDL) in a throwaway MariaDB source: generated rows, then doubled with INSERT ... SELECT;
  2. full extract source -> replica (the pipeline) vs ``mysqldump --single-transaction --quick | mariadb``
     into another database;
  3. full load replica -> PostgreSQL raw (the pipeline) vs ``pgloader`` loading the same table;
  4. full transform raw -> public, validation;
  5. an incremental run after 1% of the rows changed and 0.1% were deleted (extract with the key-range
     comparison that finds the deletes + load + transform + validate);
  6. the nightly incremental with full content verification of every row (0.1% of the rows changed in
     place at the source without their watermark moving: found, repaired in replica, raw and public);
  7. peak memory of extract and load at --rows/10 and at --rows (bounded by batch size, not table size).

Every database is created for the run and dropped afterwards. Heavy: run it once, on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from devtools.localdb import (  # noqa: E402
    MARIADB_HOST,
    MARIADB_PORT,
    MARIADB_USER,
    PG_HOST,
    PG_PORT,
    PG_USER,
    Database,
    conn_env_name,
    create_database,
    drop_database,
)
from devtools.opendental import generator, tables  # noqa: E402
from pipelines.opendental.config import Settings, VerifySettings, load_settings  # noqa: E402
from pipelines.opendental.connections import mysql  # noqa: E402
from pipelines.opendental.extract import extract_table  # noqa: E402
from pipelines.opendental.load import load_table  # noqa: E402
from pipelines.opendental.plan import build_plan  # noqa: E402
from pipelines.opendental.schema import discover  # noqa: E402
from pipelines.opendental.transform import transform_table  # noqa: E402
from pipelines.opendental.validation import validate_table  # noqa: E402

TABLE = "procedurelog"
SHARED_DDL = ROOT / ".." / "shared" / "corpus" / "opendental" / "ddl" / f"{TABLE}.sql"


def say(message: str) -> None:
    print(f"bench-opendental: {message}", flush=True)


class PeakRss:
    """Peak resident memory of this process while the block runs (sampled every 50 ms)."""

    def __init__(self) -> None:
        self.peak = self.start = 0
        self._stop = threading.Event()

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.rss())

    def __enter__(self) -> PeakRss:
        self.start = self.peak = self.rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def timed(label: str, work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.monotonic()
    value = work()
    seconds = time.monotonic() - started
    say(f"{label}: {seconds:.1f}s")
    return seconds, value


def build_source(source: Database, rows: int) -> None:
    shared = SHARED_DDL.is_file()
    ddl = generator.file_statements([SHARED_DDL]) if shared else [tables.create_table(TABLE)]
    say(f"source table from {'the shared OpenDental DDL' if shared else 'devtools.opendental.tables'}")
    conn = source.connect()
    try:
        generator.load_ddl(conn, ddl)
        generator.fill_table(conn, TABLE, min(rows, 20_000))
        generator.grow_table(conn, TABLE, rows)
    finally:
        conn.close()


def connect_pipeline(source: Database, replica: Database, analytics: Database) -> None:
    os.environ[conn_env_name("opendental_source")] = source.airflow_conn()
    os.environ[conn_env_name("opendental_replication")] = replica.airflow_conn()
    os.environ[conn_env_name("opendental_analytics")] = analytics.airflow_conn()


def plan_for(source_conn_id: str, force: bool) -> Any:
    settings = load_settings()
    with mysql(source_conn_id, read_only=True) as conn:
        return build_plan(discover(conn.cursor(), TABLE), settings, [TABLE], force=force)[0]


def verifying(every_nights: int) -> Settings:
    """The deployment's settings with content verification on (every row: 1) or off (0)."""
    settings = load_settings()
    return settings.model_copy(update={"verify": VerifySettings(every_nights=every_nights,
                                                                chunk_keys=settings.verify.chunk_keys)})


def pipeline_stages(force: bool, memory: dict[str, float] | None = None,
                    settings: Settings | None = None) -> dict[str, float]:
    """extract, load, transform and validate the table once; seconds per stage."""
    settings = settings or load_settings()
    plan = plan_for("opendental_source", force)
    seconds: dict[str, float] = {}
    with PeakRss() as rss:
        seconds["extract"], extracted = timed(f"pipeline extract ({'full' if force else 'incremental'})",
                                              lambda: extract_table(plan, settings))
    if memory is not None:
        memory["extract"] = rss.growth_mb
    with PeakRss() as rss:
        seconds["load"], loaded = timed("pipeline load", lambda: load_table(extracted, settings))
    if memory is not None:
        memory["load"] = rss.growth_mb
    seconds["transform"], transformed = timed("pipeline transform", lambda: transform_table(loaded, settings))
    seconds["validate"], _ = timed("pipeline validation", lambda: validate_table(transformed, "bench"))
    seconds["copy"] = loaded.stages["load"].copy_seconds or 0.0
    seconds["rows_extract"] = extracted.stages["extract"].rows
    seconds["rows_load"] = loaded.stages["load"].rows
    seconds["deleted"] = extracted.stages["extract"].deleted
    seconds["verified"] = extracted.stages["extract"].verified
    seconds["repaired"] = transformed.stages["transform"].repaired
    if {extracted.stages["extract"].repaired, loaded.stages["load"].repaired, seconds["repaired"]} != {
            seconds["repaired"]}:
        raise SystemExit("bench-opendental: repaired rows differ between replica, raw and public")
    removed = {extracted.stages["extract"].deleted, loaded.stages["load"].deleted,
               transformed.stages["transform"].deleted}
    if len(removed) > 1:
        raise SystemExit("bench-opendental: deleted rows differ between replica, raw and public")
    return seconds


def dump_and_restore(source: Database, target: Database) -> float:
    """``mysqldump --single-transaction --quick SRC procedurelog | mariadb TARGET`` (no password: local root)."""
    dump = [shutil.which("mariadb-dump") or "mysqldump", "--single-transaction", "--quick", "-h", MARIADB_HOST,
            "-P", str(MARIADB_PORT), "-u", MARIADB_USER, source.name, TABLE]
    restore = [shutil.which("mariadb") or "mysql", "-h", MARIADB_HOST, "-P", str(MARIADB_PORT), "-u",
               MARIADB_USER, target.name]
    started = time.monotonic()
    producer = subprocess.Popen(dump, stdout=subprocess.PIPE)
    consumer = subprocess.run(restore, stdin=producer.stdout, check=False)
    producer.stdout.close()
    if producer.wait() != 0 or consumer.returncode != 0:
        raise SystemExit("bench-opendental: mysqldump | mariadb failed")
    seconds = time.monotonic() - started
    say(f"mysqldump | mariadb: {seconds:.1f}s")
    return seconds


def ensure_pgloader() -> str | None:
    found = shutil.which("pgloader")
    if found:
        return found
    say("pgloader missing: apt-get install -y pgloader")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "pgloader"], env=env, check=False, capture_output=True)
    return shutil.which("pgloader")


def run_pgloader(replica: Database, target: Database) -> tuple[float, float | None] | None:
    """pgloader's wall time and its own COPY time for the table (from its summary)."""
    binary = ensure_pgloader()
    if not binary:
        say("pgloader not available: skipped")
        return None
    script = f"""LOAD DATABASE
  FROM mysql://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{replica.name}
  INTO postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{target.name}
  WITH include drop, create tables, create indexes, reset sequences, workers = 2, concurrency = 1,
       prefetch rows = 10000, batch rows = 10000
  CAST type datetime to timestamp drop default drop not null using zero-dates-to-null,
       type date drop default drop not null using zero-dates-to-null,
       type timestamp to timestamptz drop default drop not null using zero-dates-to-null
  INCLUDING ONLY TABLE NAMES MATCHING '{TABLE}';
"""
    with tempfile.NamedTemporaryFile("w", suffix=".load", delete=False) as file:
        file.write(script)
    started = time.monotonic()
    # Without a terminal pgloader tries /dev/tty unless it runs in its own session with no stdin.
    result = subprocess.run([binary, file.name], check=False, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    seconds = time.monotonic() - started
    os.unlink(file.name)
    output = (result.stdout + result.stderr).splitlines()
    if result.returncode != 0 or "Heap exhausted" in result.stdout + result.stderr:
        say(f"pgloader failed (exit {result.returncode}): {output[-1:]}")
        return None
    table_line = next((line for line in output if line.strip().startswith(f"{replica.name}.{TABLE}")), "")
    copy_seconds = float(table_line.split()[-1].rstrip("s")) if table_line.strip().endswith("s") else None
    say(f"pgloader: {seconds:.1f}s wall; its summary: {table_line.strip()}")
    loaded = int(table_line.split()[2]) if len(table_line.split()) > 2 else 0
    say(f"pgloader loaded {loaded:,} rows")
    for line in output:
        if any(word in line for word in ("COPY Threads", "Index Build", "Total import")):
            say(f"pgloader summary: {line.strip()}")
    return seconds, copy_seconds


def change_and_delete(source: Database) -> tuple[int, int]:
    """1% of the rows changed (stamped now) and 0.1% deleted, spread over the whole key range."""
    conn = source.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"UPDATE `{TABLE}` SET ProcFee = ProcFee + 1, DateTStamp = UTC_TIMESTAMP() "
                    "WHERE ProcNum % 100 = 0")
        changed = cur.rowcount
        cur.execute(f"DELETE FROM `{TABLE}` WHERE ProcNum % 1000 = 7")
        return changed, cur.rowcount
    finally:
        conn.close()


def change_in_place(source: Database) -> int:
    """0.1% of the rows changed with their watermark kept (OpenDental's ProcStatus finding)."""
    conn = source.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"UPDATE `{TABLE}` SET ProcStatus = ProcStatus + 1, DateTStamp = DateTStamp "
                    "WHERE ProcNum % 1000 = 3")
        return cur.rowcount
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in procedurelog (default 1,000,000)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the --rows/10 memory comparison")
    args = parser.parse_args()
    rows = args.rows
    dbs = {name: create_database(engine, prefix=f"bench_od_{name}") for name, engine in
           (("source", "mysql"), ("replica", "mysql"), ("dump", "mysql"), ("raw", "postgres"),
            ("pgloader", "postgres"))}
    try:
        connect_pipeline(dbs["source"], dbs["replica"], dbs["raw"])
        memory_small: dict[str, float] = {}
        if not args.skip_memory:
            say(f"memory at {rows // 10:,} rows")
            build_source(dbs["source"], rows // 10)
            pipeline_stages(force=True, memory=memory_small)
        say(f"building a {rows:,}-row {TABLE}")
        timed("source build", lambda: build_source_to(dbs["source"], rows))
        memory_big: dict[str, float] = {}
        full = pipeline_stages(force=True, memory=memory_big)
        # The nightly incremental follows the pipeline's own previous run, not a gigabyte of other tools'
        # bulk writes: measured before the comparisons, whose checkpoints and autovacuum would land in it.
        changed, deleted = change_and_delete(dbs["source"])
        say(f"changed {changed:,} rows (1%), deleted {deleted:,} (0.1%)")
        incremental = pipeline_stages(force=False, settings=verifying(0))
        in_place = change_in_place(dbs["source"])
        say(f"changed {in_place:,} rows in place (0.1%, watermark kept); nightly run verifying every row")
        verified = pipeline_stages(force=False, settings=verifying(1))
        dump_seconds = dump_and_restore(dbs["source"], dbs["dump"])
        pgloader = run_pgloader(dbs["replica"], dbs["pgloader"])
        report(rows, full, incremental, dump_seconds, pgloader, memory_small, memory_big, changed, deleted)
        report_verified(full, verified, in_place)
    finally:
        for db in dbs.values():
            drop_database(db)
    return 0


def build_source_to(source: Database, rows: int) -> None:
    conn = source.connect()
    try:
        if source.scalar(f"SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                         f"AND TABLE_NAME = '{TABLE}'"):
            generator.grow_table(conn, TABLE, rows)
            return
    finally:
        conn.close()
    build_source(source, rows)


def report(rows: int, full: dict[str, float], inc: dict[str, float], dump_s: float,
           pgloader: tuple[float, float | None] | None,
           mem_small: dict[str, float], mem_big: dict[str, float], changed: int, deleted: int) -> None:
    full_total = full["extract"] + full["load"] + full["transform"] + full["validate"]
    inc_total = inc["extract"] + inc["load"] + inc["transform"] + inc["validate"]
    lines = [
        f"rows: {rows:,} ({TABLE}); cores: {os.cpu_count()}",
        f"extract (pipeline, full):       {full['extract']:6.1f}s  {rows / full['extract']:9,.0f} rows/s",
        f"mysqldump | mariadb:            {dump_s:6.1f}s  {rows / dump_s:9,.0f} rows/s"
        f"   -> pipeline/dump = {dump_s / full['extract']:.2f}x (goal >= 1.0x)",
        f"load (pipeline, full):          {full['load']:6.1f}s  {rows / full['load']:9,.0f} rows/s"
        f"   (COPY phase {full['copy']:.1f}s = {rows / max(full['copy'], 1e-9):,.0f} rows/s; then key, index, swap)",
    ]
    if pgloader:
        wall, copy = pgloader
        lines.append(f"pgloader (wall):                {wall:6.1f}s  {rows / wall:9,.0f} rows/s"
                     f"   -> pipeline/pgloader = {wall / full['load']:.2f}x (goal >= 1.5x)")
        if copy:
            lines.append(f"pgloader (its table COPY time): {copy:6.1f}s  {rows / copy:9,.0f} rows/s"
                         f"   -> pipeline load total vs pgloader COPY = {copy / full['load']:.2f}x, "
                         f"COPY vs COPY = {copy / max(full['copy'], 1e-9):.2f}x")
    lines += [
        f"transform (full rebuild):       {full['transform']:6.1f}s",
        f"validation:                     {full['validate']:6.1f}s",
        f"full run total:                 {full_total:6.1f}s",
        f"incremental run ({changed:,} rows changed, {deleted:,} deleted; {inc['rows_extract']:,.0f} extracted, "
        f"{inc['rows_load']:,.0f} loaded, {inc['deleted']:,.0f} deleted from replica/raw/public): "
        f"{inc_total:.1f}s = {100 * inc_total / full_total:.1f}% of the full run "
        f"(goal < 5%)  [extract {inc['extract']:.1f}s, load {inc['load']:.1f}s, transform {inc['transform']:.1f}s,"
        f" validation {inc['validate']:.1f}s]",
    ]
    if mem_small:
        lines.append(f"peak RSS growth, extract: {mem_small['extract']:.0f} MB at {rows // 10:,} rows, "
                     f"{mem_big['extract']:.0f} MB at {rows:,} rows; load: {mem_small['load']:.0f} MB, "
                     f"{mem_big['load']:.0f} MB")
    print("\n" + "\n".join(lines))


def report_verified(full: dict[str, float], run: dict[str, float], in_place: int) -> None:
    full_total = full["extract"] + full["load"] + full["transform"] + full["validate"]
    total = run["extract"] + run["load"] + run["transform"] + run["validate"]
    print(f"nightly incremental with full content verification ({run['verified']:,.0f} rows verified, "
          f"{in_place:,} changed in place, {run['repaired']:,.0f} repaired in replica/raw/public): {total:.1f}s = "
          f"{100 * total / full_total:.1f}% of the full run (goal <= 10%)  [extract {run['extract']:.1f}s, "
          f"load {run['load']:.1f}s, transform {run['transform']:.1f}s, validation {run['validate']:.1f}s]")


if __name__ == "__main__":
    sys.exit(main())
