"""How the reader thread of a partition job fetches documents with the least work for the Python process.

On PostgreSQL (psycopg 3) the document column comes back as the raw UTF-8 bytes the server sends:
no decoding into a Python str (which a BOM would widen to two bytes a character), no re-encoding for
lxml, which parses UTF-8 bytes directly. Rows stream from a server-side cursor a few at a time, so the
driver never holds a whole batch in a second buffer. Other engines (pymssql on SQL Server) return str,
which the extraction core handles as well.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

_ROWS_PER_FETCH = 32
# A declaration naming another encoding than UTF-8: the server's UTF-8 bytes would be misread by lxml,
# so such a value is decoded and goes down the str path (which drops the declaration).
_FOREIGN_DECLARATION = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*encoding\s*=\s*[\"'](?!utf-?8[\"'])",
                                  re.IGNORECASE)


def _utf8_loader() -> type:
    from psycopg.adapt import Loader

    class Utf8BytesLoader(Loader):
        def load(self, data: Any) -> bytes | str:
            raw = bytes(data)
            # Cheap test first: most documents have no declaration at all.
            if b"<?xml" in raw[:16] and _FOREIGN_DECLARATION.match(raw[:200]):
                return raw.decode("utf-8")
            return raw

    return Utf8BytesLoader


def _register_bytes_loader(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                           executemany: bool) -> None:
    # Per cursor: the pooled connection itself keeps returning str to everyone else.
    cursor.adapters.register_loader("text", _utf8_loader())


def prepare_reader(conn: sa.Connection) -> sa.Connection:
    """Tune a connection used only by the reader thread."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        event.listen(conn, "before_cursor_execute", _register_bytes_loader)
        conn.execution_options(stream_results=True, max_row_buffer=_ROWS_PER_FETCH)
    return conn
