#!/usr/bin/env python
"""``make bench-appxml``: staging throughput against the parse-only ceiling, measured in the same run.

  1. a throwaway PostgreSQL database with ``dbo.app_xml`` of --rows rows (default 5,000): the shared
     Provenir samples cycled under new app_ids (the real mix, about 200 KB a document), or generated
     documents when the corpus is not checked out. The column is stored uncompressed (STORAGE EXTERNAL),
     as SQL Server stores NVARCHAR(MAX), so the database does not spend CPU on TOAST decompression;
  2. the parse-only ceiling: reduce_document over the same rows, in memory, on one core;
  3. one worker (the CLI, ``--mod 1``), then two workers side by side (``--mod 2``, two processes),
     each into an emptied staging table; rows/s, MB/s, peak RSS per worker from its metrics.

Steps 2 and 3 repeat for --repeat rounds; the ratios are computed within each round (same conditions)
and printed per round with the best: on a shared machine other jobs only ever slow a measurement down.
Rates use the workers' own staging time (first read to last commit); the wall time with interpreter
start-up is printed next to them.

Goals (issue 3): one worker >= 0.7 x ceiling, two workers >= 1.4 x one worker, peak RSS per worker
< 2 x the largest batch's raw bytes + 150 MB. The database is created for the run and dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

import psycopg  # noqa: E402

from devtools.appxml import generator, seed  # noqa: E402
from devtools.localdb import create_database, drop_database  # noqa: E402
from pipelines.appxml import ddl  # noqa: E402
from pipelines.appxml.reduce import reduce_document  # noqa: E402
from pipelines.common.database.engines import engine_from_url  # noqa: E402
from pipelines.common.database.tables import TableName  # noqa: E402

SHARED_CORPUS = ROOT / ".." / "shared" / "corpus" / "provenir"
STAGING = TableName("dbo", "app_xml_staging")


def corpus_texts() -> tuple[list[str], str]:
    files = seed.corpus_files(SHARED_CORPUS) if SHARED_CORPUS.is_dir() else []
    if files:
        return [path.read_bytes().decode("utf-8") for path in files], f"shared corpus ({len(files)} samples)"
    docs = generator.synthetic_corpus(130, seed=1, median_bytes=100_000)
    return [seed.as_text(doc.body) or "" for doc in docs], "generated documents (shared corpus absent)"


def source_rows(texts: list[str], rows: int) -> Iterator[tuple[int, str]]:
    for i in range(rows):
        yield i + 1, texts[i % len(texts)]


def build_source(db, texts: list[str], rows: int) -> None:
    with psycopg.connect(db.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS dbo")
        conn.execute('CREATE TABLE dbo.app_xml (app_id integer PRIMARY KEY, "app_XML" text)')
        conn.execute('ALTER TABLE dbo.app_xml ALTER COLUMN "app_XML" SET STORAGE EXTERNAL')
        with conn.cursor() as cur, cur.copy('COPY dbo.app_xml (app_id, "app_XML") FROM STDIN') as copy:
            for row in source_rows(texts, rows):
                copy.write_row(row)
        conn.execute("VACUUM ANALYZE dbo.app_xml")


def parse_ceiling(texts: list[str], rows: int) -> tuple[float, float]:
    """rows/s and MB/s of reduce_document alone over the same rows (one thread, no database)."""
    total_bytes = 0
    started = time.perf_counter()
    for app_id, text in source_rows(texts, rows):
        reduce_document(app_id, text)
        total_bytes += len(text)
    elapsed = time.perf_counter() - started
    return rows / elapsed, total_bytes / 1e6 / elapsed


def run_workers(url: str, workers: int, batch: int, metrics_dir: Path) -> tuple[float, list[dict]]:
    """Wall seconds and each worker's metrics for ``workers`` CLI processes side by side."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    started = time.perf_counter()
    procs = [subprocess.Popen(
        [sys.executable, "-m", "pipelines.appxml", "--url", url, "--mod", str(workers), "--rem", str(rem),
         "--batch", str(batch), "--metrics", str(metrics_dir / f"w{workers}_{rem}.json")],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for rem in range(workers)]
    for proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"worker failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    wall = time.perf_counter() - started
    return wall, [json.loads((metrics_dir / f"w{workers}_{rem}.json").read_text()) for rem in range(workers)]


def empty_staging(engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE dbo.app_xml_staging")


def largest_batch_bytes(texts: list[str], rows: int, batch: int, workers: int) -> int:
    sizes = [len(text) for _, text in source_rows(texts, rows)]
    largest = 0
    for rem in range(workers):
        part = sizes[rem::workers]
        largest = max([largest] + [sum(part[i:i + batch]) for i in range(0, len(part), batch)])
    return largest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000, help="source rows (default 5,000)")
    parser.add_argument("--batch", type=int, default=250, help="rows per batch (default 250)")
    parser.add_argument("--repeat", type=int, default=2, help="measurement rounds, best kept (default 2)")
    args = parser.parse_args()
    texts, origin = corpus_texts()
    db = create_database("postgres", "appxml_bench")
    engine = engine_from_url(db.url)
    try:
        print(f"source: {args.rows:,} rows from {origin}; batch {args.batch}; cpus {os.cpu_count()}, "
              f"load average {os.getloadavg()[0]:.1f}")
        started = time.perf_counter()
        build_source(db, texts, args.rows)
        source_mb = sum(len(text) for _, text in source_rows(texts, args.rows)) / 1e6
        print(f"built dbo.app_xml: {source_mb:,.0f} MB in {time.perf_counter() - started:.0f} s "
              f"(average {source_mb * 1e3 / args.rows:.0f} KB)")
        ddl.ensure_staging_table(engine, STAGING)
        ddl.drop_staging_index(engine, STAGING)
        # Ratios are taken within a round (ceiling, one worker, two workers measured back to back under the
        # same conditions); on a shared machine other people's jobs only ever slow a measurement down.
        rounds: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory() as tmp:
            for round_no in range(1, args.repeat + 1):
                ceiling_rps, ceiling_mbs = parse_ceiling(texts, args.rows)
                figures = {"ceiling": ceiling_rps}
                print(f"round {round_no} parse-only ceiling (1 core): {ceiling_rps:7.1f} rows/s "
                      f"{ceiling_mbs:7.1f} MB/s")
                for workers in (1, 2):
                    empty_staging(engine)
                    wall, metrics = run_workers(db.url, workers, args.batch, Path(tmp))
                    # Staging time as the workers measure it (first read to last commit), not start-up.
                    staging_s = max(m["duration_s"] for m in metrics)
                    rps = sum(m["processed"] for m in metrics) / staging_s
                    figures[str(workers)] = rps
                    rss = max(m["peak_rss_mb"] for m in metrics)
                    bound = 2 * largest_batch_bytes(texts, args.rows, args.batch, workers) / 2**20 + 150
                    per_worker = ", ".join(f"{m['rows_per_sec']:.1f}" for m in metrics)
                    print(f"round {round_no} {workers} worker(s): {rps:7.1f} rows/s {source_mb / staging_s:7.1f} MB/s "
                          f"(per worker: {per_worker} rows/s; {wall:.1f} s wall with start-up), "
                          f"peak RSS {rss:.0f} MB (bound {bound:.0f} MB)")
                rounds.append(figures)
                print(f"round {round_no} one worker / ceiling {figures['1'] / figures['ceiling']:.2f} (goal >= 0.70), "
                      f"two workers / one {figures['2'] / figures['1']:.2f} (goal >= 1.40)")
        one = [r["1"] / r["ceiling"] for r in rounds]
        two = [r["2"] / r["1"] for r in rounds]
        print(f"one worker / ceiling:  best {max(one):.2f}, per round {', '.join(f'{x:.2f}' for x in one)}")
        print(f"two workers / one:     best {max(two):.2f}, per round {', '.join(f'{x:.2f}' for x in two)}")
        print(f"load average after:    {os.getloadavg()[0]:.1f}")
    finally:
        engine.dispose()
        drop_database(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
