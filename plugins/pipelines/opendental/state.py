"""Per-table extract state (strategy, watermark, last key, rows, schema signature) in a table on the
replica, next to the data it describes: a reset Airflow metadata DB loses nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipelines.common.paths import read_sql

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class TableState:
    strategy: str
    watermark_column: str | None
    last_value: str | None
    last_key: int | None
    rows: int
    signature: str | None
    updated_at: Any = None


def ensure_state_table(conn: Any) -> None:
    cur = conn.cursor()
    cur.execute(read_sql("mysql/opendental/state_table.sql"))
    cur.close()


def state_table_exists(conn: Any) -> bool:
    cur = conn.cursor()
    cur.execute(read_sql("mysql/opendental/state_exists.sql"))
    exists = bool(cur.fetchone()[0])
    cur.close()
    return exists


def get_state(conn: Any, table: str) -> TableState | None:
    if not state_table_exists(conn):
        return None
    cur = conn.cursor()
    cur.execute(read_sql("mysql/opendental/state_get.sql"), {"table": table})
    row = cur.fetchone()
    cur.close()
    return None if row is None else TableState(*row)


def put_state(conn: Any, table: str, strategy: str, watermark_column: str | None, last_value: str | None,
              last_key: int | None, rows: int, signature: str) -> None:
    cur = conn.cursor()
    cur.execute(read_sql("mysql/opendental/state_put.sql"), {
        "table": table, "strategy": strategy, "watermark_column": watermark_column, "last_value": last_value,
        "last_key": last_key, "rows": rows, "signature": signature,
    })
    cur.close()


def as_text(value: Any) -> str | None:
    """A watermark value as stored: ``YYYY-MM-DD HH:MM:SS`` (UTC for TIMESTAMP columns)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat() + " 00:00:00"
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


def later(a: str | None, b: str | None) -> str | None:
    """The later of two stored watermark texts (same fixed format, so text order is time order)."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def window_start(last_value: str | None, overlap: timedelta) -> str | None:
    """Where an incremental read starts: the stored watermark minus the overlap (None: from the start)."""
    if not last_value:
        return None
    try:
        start = datetime.strptime(last_value[:19], TIMESTAMP_FORMAT) - overlap
    except (ValueError, OverflowError):  # a zero date or other legacy value: read everything
        return None
    return max(start, datetime(1, 1, 1)).isoformat(sep=" ", timespec="seconds")
