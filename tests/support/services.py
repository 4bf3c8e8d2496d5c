"""Real local services for tests: throwaway databases, a moto server, a Slack webhook sink.

Every database is created fresh with a unique name and dropped afterwards, so test sessions (and
sessions running side by side) never see each other's rows.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.localdb import (
    Database,
    MotoEndpoint,
    conn_env_name,
    create_database,
    drop_database,
    free_port,
    moto_server,
    temporary_database,
)

__all__ = [
    "Database",
    "MotoEndpoint",
    "conn_env_name",
    "create_database",
    "drop_database",
    "free_port",
    "moto_server",
    "temporary_database",
]


@dataclass
class SlackSink:
    """A local HTTP server standing in for a Slack incoming webhook; records every POST body."""

    server: ThreadingHTTPServer
    messages: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/XXXX"

    def airflow_conn(self) -> str:
        return json.dumps({"conn_type": "slackwebhook", "password": self.url})

    def texts(self) -> list[str]:
        return [message.get("text", "") for message in self.messages]


def start_slack_sink() -> SlackSink:
    sink: SlackSink

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            sink.messages.append(json.loads(body or b"{}"))
            reply = b"ok" if sink.status == 200 else b"invalid_token"
            self.send_response(sink.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

    sink = SlackSink(ThreadingHTTPServer(("127.0.0.1", 0), Handler))
    threading.Thread(target=sink.server.serve_forever, daemon=True, name="slack-sink").start()
    return sink


@contextmanager
def slack_sink() -> Iterator[SlackSink]:
    """A Slack webhook sink for the block's duration (e.g. a module-scoped fixture's)."""
    sink = start_slack_sink()
    try:
        yield sink
    finally:
        sink.server.shutdown()
        sink.server.server_close()
