"""Rows deleted at the source: found by comparing key ranges, then removed from replica, raw and public.

An incremental or append-only copy never sees a row that is gone. To find them without reading whole
tables row by row, source and replica each summarise their keys per key range in one aggregate query
(count, sum and ``BIT_XOR(CRC32(key))`` per range, computed by the server); only the ranges whose
summaries differ are looked at again, split into narrower ranges, until they are narrow enough to fetch
their keys from both sides. Keys the replica has and the source no longer has were deleted there.

Found keys wait in ``etl_resync_keys`` on the replica until every later stage is in line, the same pending
keys content verification (``verify``) leaves for the rows it repairs or deletes: extract records them and
deletes them from the replica; load and transform each upsert what their input still holds for those keys
and delete the rest, and transform then forgets them. A stage that fails leaves them pending for its rerun
or the next night, and a rerun finds nothing twice (the replica no longer has them). Keys are kept as JSON
arrays of their text form, so composite and non-integer keys travel the same way. This key-range search
needs a single integer primary key; ``verify`` covers the others.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pipelines.common.paths import read_sql
from pipelines.opendental.db import execute
from pipelines.opendental.identifiers import mysql_ident

log = logging.getLogger(__name__)

#: Ranges summarised by the first comparison (one GROUP BY over the key index on each side).
MAX_BUCKETS = 16_384
#: Ranges at most this wide are compared key by key instead of being split again.
LEAF_WIDTH = 256
#: How many narrower ranges a differing range is split into at the next level.
FANOUT = 64
#: Ranges per statement and keys per IN list: statements stay small whatever the number of deletes.
CHUNK = 500

KeyRange = tuple[int, int]  # inclusive bounds
Summary = tuple[int, Any, Any]  # count, sum, xor of crc32


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def per_range(select: str, ranges: Sequence[KeyRange], params: Sequence[Any] = ()) -> tuple[str, list[Any]]:
    """``select`` (ending in a ``BETWEEN %s AND %s`` on the key, maybe followed by more) once per range,
    joined by UNION ALL: each part is a plain index range read, where one WHERE with hundreds of ORs
    would be checked again on every row (30 times slower at 1,000 ranges)."""
    return " UNION ALL ".join([select] * len(ranges)), [v for pair in ranges for v in (*params, *pair)]


def query_rows(conn: Any, sql: str, params: Sequence[Any]) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(sql, params or None)
        return list(cur.fetchall())


def key_bounds(conn: Any, table: str, key: str) -> tuple[int, int] | None:
    """Lowest and highest key (None for an empty table): two index look-ups."""
    low, high = query_rows(conn, f"SELECT MIN({mysql_ident(key)}), MAX({mysql_ident(key)}) FROM {mysql_ident(table)}",
                      [])[0]
    return None if low is None else (int(low), int(high))


def summarise(conn: Any, table: str, key: str, ranges: Sequence[KeyRange], base: int,
              width: int) -> dict[int, Summary]:
    """Per bucket ``(key - base) DIV width`` within ``ranges``: count, sum and checksum of the keys."""
    k = mysql_ident(key)
    select = (f"(SELECT ({k} - %s) DIV %s AS bucket, COUNT(*), SUM({k}), BIT_XOR(CRC32({k})) "
              # ORDER BY NULL: MariaDB would sort the groups, which nothing here needs (a quarter of the time).
              f"FROM {mysql_ident(table)} WHERE {k} BETWEEN %s AND %s GROUP BY bucket ORDER BY NULL)")
    buckets: dict[int, Summary] = {}
    for chunk in chunks(ranges):
        for bucket, rows, total, checksum in query_rows(conn, *per_range(select, chunk, (base, width))):
            buckets[int(bucket)] = (int(rows), total, checksum)
    return buckets


def keys_in(conn: Any, table: str, key: str, ranges: Sequence[KeyRange]) -> set[int]:
    k = mysql_ident(key)
    select = f"SELECT {k} FROM {mysql_ident(table)} WHERE {k} BETWEEN %s AND %s"
    found: set[int] = set()
    for chunk in chunks(ranges):
        found.update(int(row[0]) for row in query_rows(conn, *per_range(select, chunk)))
    return found


def merge(ranges: Sequence[KeyRange]) -> list[KeyRange]:
    """Sorted ranges with adjacent ones joined (fewer, shorter conditions)."""
    merged: list[KeyRange] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
        else:
            merged.append((low, high))
    return merged


def on_both(pool: ThreadPoolExecutor, work: Callable[..., Any], source: Any, replica: Any, *args: Any) -> tuple:
    """``work(conn, *args)`` on both sides at the same time: each server does its own part."""
    first, second = pool.submit(work, source, *args), pool.submit(work, replica, *args)
    return first.result(), second.result()


def differing_ranges(source: Any, replica: Any, table: str, key: str) -> list[KeyRange]:
    """The narrow key ranges in which source and replica hold different keys (both sides summarised at
    the same time, each by its own server)."""
    bounds = [b for b in (key_bounds(source, table, key), key_bounds(replica, table, key)) if b]
    if not bounds:
        return []
    low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
    ranges: list[KeyRange] = [(low, high)]
    width = max(1, math.ceil((high - low + 1) / MAX_BUCKETS))
    with ThreadPoolExecutor(max_workers=2) as pool:
        while True:
            mine, theirs = on_both(pool, summarise, source, replica, table, key, ranges, low, width)
            differing = [b for b in mine.keys() | theirs.keys() if mine.get(b) != theirs.get(b)]
            ranges = merge([(low + b * width, min(high, low + (b + 1) * width - 1)) for b in differing])
            if not ranges or width <= LEAF_WIDTH:
                return ranges
            width = max(1, math.ceil(width / FANOUT))


def find_deleted(source: Any, replica: Any, table: str, key: str) -> tuple[list[int], int]:
    """(keys the replica has and the source no longer has, count of source keys the replica lacks)."""
    ranges = differing_ranges(source, replica, table, key)
    if not ranges:
        return [], 0
    with ThreadPoolExecutor(max_workers=2) as pool:
        at_source, at_replica = on_both(pool, keys_in, source, replica, table, key, ranges)
    return sorted(at_replica - at_source), len(at_source - at_replica)


# --- pending keys, stage by stage ------------------------------------------------------------------------

Key = tuple[str, ...]
#: Keys per statement when pending keys are written, read back or forgotten.
KEYS_PER_STATEMENT = 500


def ensure_pending_table(replica: Any) -> None:
    """The pending-keys table; keys an older release left in ``etl_deleted_keys`` are moved into it once."""
    execute(replica, read_sql("mysql/opendental/resync_keys_table.sql"))
    if query_rows(replica, read_sql("mysql/opendental/deleted_keys_exists.sql"), [])[0][0]:
        execute(replica, read_sql("mysql/opendental/deleted_keys_move.sql"))
        execute(replica, "DROP TABLE `etl_deleted_keys`")


def remember(replica: Any, table: str, keys: Sequence[Key]) -> None:
    ensure_pending_table(replica)
    with replica.cursor() as cur:
        for chunk in chunks(keys, KEYS_PER_STATEMENT):
            cur.executemany("INSERT IGNORE INTO `etl_resync_keys` (table_name, key_text, found_at) "
                            "VALUES (%s, %s, UTC_TIMESTAMP())", [(table, json.dumps(list(k))) for k in chunk])


def pending(replica: Any, table: str) -> list[Key]:
    """Keys repaired or deleted in the replica that a later stage has not brought in line yet."""
    ensure_pending_table(replica)
    rows = query_rows(replica, "SELECT key_text FROM `etl_resync_keys` WHERE table_name = %s ORDER BY key_text",
                      [table])
    return [tuple(json.loads(row[0])) for row in rows]


def forget(replica: Any, table: str, keys: Sequence[Key]) -> None:
    for chunk in chunks(keys, KEYS_PER_STATEMENT):
        execute(replica, "DELETE FROM `etl_resync_keys` WHERE table_name = %s AND key_text IN ("
                + ", ".join(["%s"] * len(chunk)) + ")", [table, *(json.dumps(list(k)) for k in chunk)])


def delete_from_mysql(conn: Any, table: str, key: str, keys: Sequence[int]) -> int:
    deleted = 0
    for chunk in chunks(keys):
        deleted += execute(conn, f"DELETE FROM {mysql_ident(table)} WHERE {mysql_ident(key)} IN ("
                                 + ", ".join(["%s"] * len(chunk)) + ")", list(chunk))
    return deleted


def propagate_at_source(source: Any, replica: Any, table: str, key: str) -> int:
    """Find the rows deleted at the source, remember their keys for the later stages, delete them from
    the replica; returns how many the replica lost."""
    started = time.monotonic()
    deleted, missing = find_deleted(source, replica, table, key)
    compared = time.monotonic() - started
    if missing:
        # Rows the window did not cover (a back-dated watermark) or inserted since the copy: not deletes.
        log.info("%s: %d source rows are not in the replica yet (outside this run's window); a forced full "
                 "run copies them", table, missing)
    if not deleted:
        log.info("%s: no rows deleted at the source (key ranges compared in %.1fs)", table, compared)
        return 0
    remember(replica, table, [(str(k),) for k in deleted])  # first: a crash before the DELETE finds them again
    removed = delete_from_mysql(replica, table, key, deleted)
    log.info("%s: %d rows deleted at the source (key ranges compared in %.1fs), removed from the replica in "
             "%.1fs", table, removed, compared, time.monotonic() - started - compared)
    return removed
