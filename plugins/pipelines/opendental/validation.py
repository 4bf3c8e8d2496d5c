"""Validation between stages: row counts source vs replica vs raw vs public, recorded per run on the replica.

Full copies compare whole tables at every stage. Incremental and append-only runs compare the rows of
this run's window (changed since the window start, or past the previous key) at source, replica and raw,
and whole tables from the replica on: a row deleted in production is not deleted by an incremental copy,
so source and replica totals may differ there (logged, not failed).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.connections import DEFAULT_IDS, ConnIds, mysql, postgres
from pipelines.opendental.identifiers import mysql_ident, pg_ident
from pipelines.opendental.load import RAW, qualified
from pipelines.opendental.transform import PUBLIC

log = logging.getLogger(__name__)


class RowCountMismatch(RuntimeError):
    """Two stages disagree on a table's row count; the message names the table and both counts."""


@dataclass
class Counts:
    table: str
    strategy: str
    mode: str
    source_rows: int | None
    replica_rows: int
    raw_rows: int
    public_rows: int
    window_start: str | None = None
    changed_source: int | None = None
    changed_replica: int | None = None
    changed_raw: int | None = None

    def problems(self) -> list[str]:
        """Every disagreement, as ``table T: what: a=N b=M`` lines."""
        pairs = []
        if self.mode == "full":
            pairs.append(("rows", "source", self.source_rows, "replica", self.replica_rows))
        else:
            pairs.append(("changed rows", "source", self.changed_source, "replica", self.changed_replica))
            pairs.append(("changed rows", "replica", self.changed_replica, "raw", self.changed_raw))
        pairs.append(("rows", "replica", self.replica_rows, "raw", self.raw_rows))
        pairs.append(("rows", "raw", self.raw_rows, "public", self.public_rows))
        return [f"table {self.table}: {what} differ: {a}={x} {b}={y}" for what, a, x, b, y in pairs if x != y]


def _mysql_count(conn: Any, table: str, where: str = "", params: list[Any] | None = None) -> int:
    cur = conn.cursor()
    cur.execute(f"SELECT COUNT(*) FROM {mysql_ident(table)} {where}", params or [])
    value = int(cur.fetchone()[0])
    cur.close()
    return value


def _pg_count(pg: Any, qualified_name: str, where: str = "", params: list[Any] | None = None) -> int:
    with pg.cursor() as cur:
        cur.execute(f"SELECT COUNT(*) FROM {qualified_name} {where}", params or [])
        value = int(cur.fetchone()[0])
    pg.commit()
    return value


def _window(result: dict[str, Any]) -> tuple[str | None, str, str, list[Any]]:
    """(label, MySQL condition, PostgreSQL condition, params) selecting this run's changed rows."""
    if result["mode"] == "incremental" and result.get("since"):
        column = result["watermark_column"]
        return (result["since"], f"WHERE {mysql_ident(column)} >= %s", f"WHERE {pg_ident(column)} >= %s",
                [result["since"]])
    if result["mode"] == "append_only" and result.get("after_key") is not None:
        column = result["key_column"]
        return (f"{column} > {result['after_key']}", f"WHERE {mysql_ident(column)} > %s",
                f"WHERE {pg_ident(column)} > %s", [result["after_key"]])
    return None, "", "", []


def count_table(result: dict[str, Any], ids: ConnIds = DEFAULT_IDS) -> Counts:
    table = result["table"]
    label, my_where, pg_where, params = _window(result)
    mode = result["mode"] if label else "full"
    with mysql(ids.source, read_only=True) as source, mysql(ids.replica) as replica:
        source_rows = _mysql_count(source, table)
        replica_rows = _mysql_count(replica, table)
        changed_source = _mysql_count(source, table, my_where, params) if label else None
        changed_replica = _mysql_count(replica, table, my_where, params) if label else None
    with postgres(ids.analytics) as pg:
        raw_rows = _pg_count(pg, qualified(RAW, table))
        public_rows = _pg_count(pg, qualified(PUBLIC, table.lower()))
        changed_raw = _pg_count(pg, qualified(RAW, table), pg_where, params) if label else None
    return Counts(table, result["strategy"], mode, source_rows, replica_rows, raw_rows, public_rows, label,
                  changed_source, changed_replica, changed_raw)


def record(counts: Counts, run_id: str, problems: list[str], ids: ConnIds = DEFAULT_IDS) -> None:
    with mysql(ids.replica) as replica:
        cur = replica.cursor()
        cur.execute(read_sql("mysql/opendental/validation_table.sql"))
        cur.execute(read_sql("mysql/opendental/validation_put.sql"), {
            **{k: v for k, v in asdict(counts).items() if k not in ("mode", "table")},
            "table": counts.table, "run_id": run_id, "ok": not problems,
            "problem": "; ".join(problems)[:500] or None,
        })
        cur.close()


def validate_table(result: dict[str, Any], run_id: str, ids: ConnIds = DEFAULT_IDS) -> dict[str, Any]:
    """Count every stage, record the counts, fail naming the table and the two counts that differ."""
    counts = count_table(result, ids)
    problems = counts.problems()
    record(counts, run_id, problems, ids)
    if counts.mode != "full" and counts.source_rows != counts.replica_rows:
        log.info("%s: source has %s rows, replica %s (rows deleted in production stay in the replica)",
                 counts.table, counts.source_rows, counts.replica_rows)
    if problems:
        raise RowCountMismatch("; ".join(problems))
    log.info("%s: counts agree: replica=%s raw=%s public=%s%s", counts.table, counts.replica_rows,
             counts.raw_rows, counts.public_rows,
             f", changed since {counts.window_start}: {counts.changed_source}" if counts.window_start else "")
    return {**result, "validation": asdict(counts)}
