"""Content verification, like ``pt-table-checksum``: source and replica compared row content by row content.

Each server summarises its rows per bucket of a *range expression* (the first integer primary-key column,
or ``CRC32`` of the whole key when the key has no integer column): a count and ``BIT_XOR`` of a per-row
checksum over every column in an exact text form (``HEX`` for binary, FLOAT/DOUBLE widened to DOUBLE's
shortest round-trip text, BIT as a number) plus a NULL bitmap. Buckets whose summaries differ are split
again (as for deletes) until they are narrow; then both sides list ``key -> row checksum`` for them. Rows
that differ or are missing in the replica are re-read from the source and upserted into the replica; keys
the source no longer has are deleted from it.

Every key repaired or deleted waits in ``etl_resync_keys`` on the replica until load (raw) and transform
(public) have brought it in line: each stage upserts the rows its input still holds and deletes the
others, transform then forgets them. A failed stage leaves them pending for its rerun. Keys are kept as
JSON arrays of their text form, so composite and non-integer keys travel the same way.
"""

from __future__ import annotations

import logging
import math
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from pipelines.opendental.db import execute, mysql_upsert_suffix
from pipelines.opendental.deletes import (
    FANOUT,
    KEYS_PER_STATEMENT,
    LEAF_WIDTH,
    MAX_BUCKETS,
    Key,
    chunks,
    ensure_pending_table,
    merge,
    on_both,
    per_range,
    query_rows,
    remember,
)
from pipelines.opendental.identifiers import mysql_ident
from pipelines.opendental.schema import BINARY_TYPES, FLOAT_TYPES, INTEGER_TYPES, TableSchema, insert_row_expr

log = logging.getLogger(__name__)

#: Buckets per summary level, leaf width and fan-out are the deletes'; the hashed range is 32 bits wide.
HASH_SPAN = (0, 2**32 - 1)
#: Bytes of SQL per UNION ALL statement: wide tables get fewer ranges per statement.
STATEMENT_BYTES = 1_000_000

KeyRange = tuple[int, int]


@dataclass(frozen=True)
class Verified:
    """What one table's verification saw and did on the replica."""

    rows: int = 0  # source rows whose content was compared tonight
    repaired: int = 0  # rows re-read from the source (changed in place, or missing in the replica)
    deleted: int = 0  # rows the source no longer has, removed from the replica
    seconds: float = 0.0


# --- expressions --------------------------------------------------------------------------------------


def value_text(schema: TableSchema, name: str) -> str:
    """The column in a text form that changes whenever its value does (MariaDB prints FLOAT with 6 digits:
    widened to DOUBLE it prints every bit; binary as hex; BIT as its number)."""
    col = schema.column(name)
    ident = mysql_ident(name)
    if col.data_type in BINARY_TYPES:
        return f"HEX({ident})"
    if col.data_type in FLOAT_TYPES:
        return f"({ident} + 0e0)"
    if col.data_type == "bit":
        return f"({ident} + 0)"
    return ident


def row_checksum_expr(schema: TableSchema) -> str:
    """CRC32 of every column's exact text plus a NULL bitmap (CONCAT_WS skips NULLs: the bitmap tells
    NULL from '' and shows which column it was)."""
    values = ", ".join(value_text(schema, c.name) for c in schema.columns)
    nulls = ", ".join(f"ISNULL({mysql_ident(c.name)})" for c in schema.columns)
    return f"CRC32(CONCAT_WS('#', {values}, CONCAT({nulls})))"


def range_expr(schema: TableSchema) -> tuple[str, bool]:
    """(integer expression the buckets are ranges of, hashed?): the first integer key column (an index
    range read), else CRC32 of the whole key."""
    for name in schema.primary_key:
        if schema.column(name).data_type in INTEGER_TYPES:
            return mysql_ident(name), False
    return f"CRC32(CONCAT_WS('#', {', '.join(value_text(schema, k) for k in schema.primary_key)}))", True


def key_text_expr(schema: TableSchema) -> str:
    return ", ".join(f"CAST({mysql_ident(k)} AS CHAR)" for k in schema.primary_key)


# --- coverage -----------------------------------------------------------------------------------------


def tonights_slice(low: int, high: int, every_nights: int, night: int) -> KeyRange | None:
    """The contiguous share of ``low..high`` verified on ``night`` when the whole span is covered every
    ``every_nights`` nights (None when tonight's share is empty)."""
    if every_nights <= 1:
        return low, high
    share = math.ceil((high - low + 1) / every_nights)
    start = low + (night % every_nights) * share
    return (start, min(high, start + share - 1)) if start <= high else None


def split(span: KeyRange, width: int) -> list[KeyRange]:
    """``span`` cut into ranges at most ``width`` wide (bounded statements for large tables)."""
    low, high = span
    return [(start, min(high, start + width - 1)) for start in range(low, high + 1, width)]


def night_number(day: date) -> int:
    return day.toordinal()


# --- comparison ---------------------------------------------------------------------------------------


def _ranges_per_statement(select: str) -> int:
    return max(1, min(KEYS_PER_STATEMENT, STATEMENT_BYTES // max(1, len(select))))


def summarise(conn: Any, schema: TableSchema, ranges: Sequence[KeyRange], base: int, width: int) -> dict:
    """Per bucket ``(expr - base) DIV width`` within ``ranges``: count and BIT_XOR of the row checksums."""
    expr, _ = range_expr(schema)
    select = (f"(SELECT ({expr} - %s) DIV %s AS bucket, COUNT(*), BIT_XOR({row_checksum_expr(schema)}) "
              f"FROM {mysql_ident(schema.name)} WHERE {expr} BETWEEN %s AND %s GROUP BY bucket ORDER BY NULL)")
    buckets: dict[int, tuple[int, int]] = {}
    for chunk in chunks(ranges, _ranges_per_statement(select)):
        for bucket, rows, checksum in query_rows(conn, *per_range(select, chunk, (base, width))):
            buckets[int(bucket)] = (int(rows), int(checksum))
    return buckets


def row_checksums(conn: Any, schema: TableSchema, ranges: Sequence[KeyRange]) -> dict[Key, int]:
    """``key -> row checksum`` of the rows in ``ranges``. A hashed range expression has no index: the
    table is read once and the rows outside ``ranges`` are dropped here, instead of one scan per range."""
    expr, hashed = range_expr(schema)
    select = (f"SELECT {key_text_expr(schema)}, {row_checksum_expr(schema)}, {expr} FROM "
              f"{mysql_ident(schema.name)} WHERE {expr} BETWEEN %s AND %s")
    wanted = merge(ranges)
    lows = [low for low, _ in wanted]
    found: dict[Key, int] = {}
    for chunk in [[(wanted[0][0], wanted[-1][1])]] if hashed else chunks(wanted, _ranges_per_statement(select)):
        for row in query_rows(conn, *per_range(select, chunk)):
            at = bisect_right(lows, int(row[-1])) - 1
            if at >= 0 and int(row[-1]) <= wanted[at][1]:
                found[tuple(_text(v) for v in row[:-2])] = int(row[-2])
    return found


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def span_of(conn: Any, schema: TableSchema) -> KeyRange | None:
    expr, hashed = range_expr(schema)
    if hashed:
        return HASH_SPAN
    low, high = query_rows(conn, f"SELECT MIN({expr}), MAX({expr}) FROM {mysql_ident(schema.name)}", [])[0]
    return None if low is None else (int(low), int(high))


def differing_ranges(pool: ThreadPoolExecutor, source: Any, replica: Any, schema: TableSchema, span: KeyRange,
                     chunk_width: int) -> tuple[list[KeyRange], int]:
    """(narrow ranges whose content differs, source rows compared); the first level reads ``span`` in
    chunks at most ``chunk_width`` wide, each one bounded statement per side."""
    low, high = span
    _, hashed = range_expr(schema)
    width = max(1, math.ceil((high - low + 1) / MAX_BUCKETS))
    # A hashed range has no index to read a range by: one summary scan, then the rows (row_checksums).
    ranges = [span] if hashed else split(span, max(width, chunk_width))
    compared = 0
    while True:
        mine, theirs = on_both(pool, summarise, source, replica, schema, ranges, low, width)
        compared = compared or sum(rows for rows, _ in mine.values())
        differing = [b for b in mine.keys() | theirs.keys() if mine.get(b) != theirs.get(b)]
        ranges = merge([(low + b * width, min(high, low + (b + 1) * width - 1)) for b in differing])
        if not ranges or width <= LEAF_WIDTH or hashed:
            return ranges, compared
        width = max(1, math.ceil(width / FANOUT))


def differing_keys(source: Any, replica: Any, schema: TableSchema, span: KeyRange,
                   chunk_width: int) -> tuple[list[Key], list[Key], int]:
    """(keys to re-read from the source, keys the source no longer has, source rows compared)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        ranges, compared = differing_ranges(pool, source, replica, schema, span, chunk_width)
        if not ranges:
            return [], [], compared
        at_source, at_replica = on_both(pool, row_checksums, source, replica, schema, ranges)
    stale = sorted(k for k, checksum in at_source.items() if at_replica.get(k) != checksum)
    gone = sorted(at_replica.keys() - at_source.keys())
    return stale, gone, compared


# --- repair -------------------------------------------------------------------------------------------


def key_condition(columns: Sequence[str], keys: Sequence[Key], quote: Callable[[str], str],
                  prefix: str = "") -> tuple[str, list[Any]]:
    """``(k1, k2) IN ((%s, %s), ...)`` for ``keys`` (kept as text: each server reads a text literal as the
    column's type, so the primary key index still serves the look-up)."""
    names = ", ".join(f"{prefix}{quote(c)}" for c in columns)
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return f"({names}) IN ({', '.join([one] * len(keys))})", [v for key in keys for v in key]


@dataclass(frozen=True)
class KeyFilter:
    """A stage's rows with the given keys, usable wherever a ``Window`` selects rows (``condition``)."""

    columns: tuple[str, ...]
    keys: tuple[Key, ...]

    def condition(self, quote: Callable[[str], str], prefix: str = "") -> tuple[str, list[Any]]:
        return key_condition(self.columns, self.keys, quote, prefix)


def upsert_from_source(source: Any, replica: Any, schema: TableSchema, keys: Sequence[Key]) -> int:
    """Re-read the rows with ``keys`` from the source and upsert them into the replica; returns rows read."""
    suffix = mysql_upsert_suffix((c.name for c in schema.columns), schema.primary_key)
    head = f"INSERT INTO {mysql_ident(schema.name)} VALUES ".encode()
    copied = 0
    for chunk in chunks(keys, KEYS_PER_STATEMENT):
        condition, params = key_condition(schema.primary_key, chunk, mysql_ident)
        rows = query_rows(source, f"SELECT {insert_row_expr(schema)} FROM {mysql_ident(schema.name)} WHERE {condition}",
                     params)
        if rows:
            execute(replica, head + b",".join(r[0] for r in rows) + suffix)
        copied += len(rows)
    return copied


def delete_keys(cur: Any, quoted_table: str, columns: Sequence[str], keys: Sequence[Key],
                quote: Callable[[str], str]) -> int:
    """Delete ``keys`` from an already quoted table (``mysql_ident``/``qualify``), ``quote`` quoting the key
    columns, in statements of bounded size; in the caller's transaction on PostgreSQL."""
    deleted = 0
    for chunk in chunks(keys, KEYS_PER_STATEMENT):
        condition, params = key_condition(columns, chunk, quote)
        cur.execute(f"DELETE FROM {quoted_table} WHERE {condition}", params)
        deleted += cur.rowcount
    return deleted


def keys_present(conn: Any, name: str, columns: Sequence[str], keys: Sequence[Key], quote: Callable[[str], str],
                 as_text: bool = False) -> set[Key]:
    """Which of ``keys`` the already quoted table ``name`` holds (``as_text``: PostgreSQL's text cast, else
    MySQL's)."""
    found: set[Key] = set()
    select = ", ".join(f"{quote(c)}::text" if as_text else f"CAST({quote(c)} AS CHAR)" for c in columns)
    for chunk in chunks(keys, KEYS_PER_STATEMENT):
        condition, params = key_condition(columns, chunk, quote)
        with conn.cursor() as cur:
            cur.execute(f"SELECT {select} FROM {name} WHERE {condition}", params)
            found.update(tuple(_text(v) for v in row) for row in cur.fetchall())
    return found


def verify_and_repair(source: Any, replica: Any, schema: TableSchema, *, every_nights: int, night: int,
                      chunk_width: int) -> Verified:
    """Compare tonight's share of the table's content, repair the replica, remember the keys for raw and
    public. A hashed range (no integer key column) is verified whole every night."""
    started = time.monotonic()
    spans = [s for s in (span_of(source, schema), span_of(replica, schema)) if s]
    if not spans:
        return Verified()
    _, hashed = range_expr(schema)
    span = (min(s[0] for s in spans), max(s[1] for s in spans))
    tonight = span if hashed else tonights_slice(*span, every_nights, night)
    if tonight is None:
        return Verified()
    stale, gone, compared = differing_keys(source, replica, schema, tonight, chunk_width)
    if stale or gone:
        ensure_pending_table(replica)
        remember(replica, schema.name, stale + gone)  # first: a crash before the repair finds them again
    repaired = upsert_from_source(source, replica, schema, stale) if stale else 0
    with replica.cursor() as cur:
        deleted = delete_keys(cur, mysql_ident(schema.name), schema.primary_key, gone, mysql_ident) if gone else 0
    seconds = round(time.monotonic() - started, 3)
    log.info("%s: content of %d source rows verified (key range %s..%s) in %.1fs: %d rows repaired, %d deleted "
             "in the replica", schema.name, compared, tonight[0], tonight[1], seconds, repaired, deleted)
    return Verified(rows=compared, repaired=repaired, deleted=deleted, seconds=seconds)
