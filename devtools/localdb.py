"""Local stand-ins for tests, the demo and benchmarks: databases on the local MariaDB / PostgreSQL servers
and a moto server for AWS. Never imported by the pipelines (they reach systems through Airflow connections)
and not shipped in the image."""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
MARIADB_HOST, MARIADB_PORT, MARIADB_USER = "127.0.0.1", 3306, "root"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def conn_env_name(conn_id: str) -> str:
    return "AIRFLOW_CONN_" + conn_id.upper()


@dataclass(frozen=True)
class Database:
    """A throwaway database on a local server, with its SQLAlchemy URL and Airflow connection."""

    engine: str  # "postgres" or "mysql"
    name: str

    @property
    def url(self) -> str:
        if self.engine == "postgres":
            return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"
        return f"mysql+mysqldb://{MARIADB_USER}@{MARIADB_HOST}:{MARIADB_PORT}/{self.name}?charset=utf8mb4"

    def airflow_conn(self) -> str:
        host, port, login = (
            (PG_HOST, PG_PORT, PG_USER) if self.engine == "postgres" else (MARIADB_HOST, MARIADB_PORT, MARIADB_USER)
        )
        extra = {} if self.engine == "postgres" else {"charset": "utf8mb4"}
        return json.dumps(
            {"conn_type": self.engine, "host": host, "port": port, "login": login, "schema": self.name,
             "extra": extra}
        )

    def connect(self) -> Any:
        """A DB-API connection (autocommit) for test setup and assertions."""
        if self.engine == "postgres":
            import psycopg

            return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=self.name, autocommit=True)
        import MySQLdb

        conn = MySQLdb.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER, database=self.name,
                               charset="utf8mb4")
        conn.autocommit(True)
        return conn

    def scalar(self, sql: str, params: Any = None) -> Any:
        with self.connect() as conn:
            cur = conn.cursor()
            cur.execute(sql, params)
            row = cur.fetchone()
            return None if row is None else row[0]


def _admin_execute(engine: str, statement: str) -> None:
    """Run one statement as the local server's administrator (outside any database)."""
    if engine == "postgres":
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True) as conn:
            conn.execute(statement)
        return
    import MySQLdb

    conn = MySQLdb.connect(host=MARIADB_HOST, port=MARIADB_PORT, user=MARIADB_USER)
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def create_database(engine: str, prefix: str = "pipelines_test", name: str | None = None) -> Database:
    """Create a database (a unique name from ``prefix`` unless ``name`` is given; recreated if it exists)."""
    db = Database(engine, name or unique_name(prefix))
    drop_database(db)
    if engine == "postgres":
        _admin_execute(engine, f'CREATE DATABASE "{db.name}"')
    else:
        _admin_execute(engine, f"CREATE DATABASE `{db.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    return db


def drop_database(db: Database) -> None:
    if db.engine == "postgres":
        _admin_execute(db.engine, f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')
    else:
        _admin_execute(db.engine, f"DROP DATABASE IF EXISTS `{db.name}`")


@contextmanager
def temporary_database(engine: str, prefix: str = "pipelines_test") -> Iterator[Database]:
    db = create_database(engine, prefix)
    try:
        yield db
    finally:
        drop_database(db)


@dataclass(frozen=True)
class MotoEndpoint:
    """A moto server on 127.0.0.1 playing AWS (Glue, Athena, S3, ...)."""

    url: str
    region: str = "us-east-1"

    def airflow_conn(self) -> str:
        """Airflow ``aws`` connection JSON pointing at this server (dummy keys)."""
        return json.dumps(
            {"conn_type": "aws", "login": "moto", "password": "moto",
             "extra": {"endpoint_url": self.url, "region_name": self.region}}
        )

    def client(self, service: str) -> Any:
        """A boto3 client talking to this server."""
        import boto3

        return boto3.client(service, endpoint_url=self.url, region_name=self.region,
                            aws_access_key_id="moto", aws_secret_access_key="moto")

    @contextmanager
    def paced_glue_job_runs(self, seconds_per_state: int = 5) -> Iterator[None]:
        """Glue job runs stay ``seconds_per_state`` in STARTING, then in RUNNING, as real jobs take time.

        moto's default ends a run at its first read. Against a real scheduler that makes a deferrable Glue
        operator's trigger fire while the worker that deferred is still exiting, and the scheduler then fails
        the resumed attempt on the stale "success" of the deferral (apache/airflow#72716): a retry, minutes
        later. Restores the default on exit (the server may be shared)."""
        self._set_transition("glue::job_run", {"progression": "time", "seconds": seconds_per_state})
        try:
            yield
        finally:
            self._set_transition("glue::job_run", {"progression": "immediate"})

    def _set_transition(self, model: str, transition: dict[str, Any]) -> None:
        import urllib.request

        body = json.dumps({"model_name": model, "transition": transition}).encode()
        request = urllib.request.Request(f"{self.url}/moto-api/state-manager/set-transition", data=body,
                                         method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10)

    def reset(self) -> None:
        """Forget every resource created so far (moto's reset API)."""
        import urllib.request

        reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=10)


@contextmanager
def moto_server(region: str = "us-east-1") -> Iterator[MotoEndpoint]:
    """The one way to start moto: an in-process ThreadedMotoServer on a free port, stopped on exit."""
    from moto.server import ThreadedMotoServer

    # Its HTTP server logs every request (and a red "POST / 400" for each expected AWS error) through
    # werkzeug: noise before the demo's summary and in test output, never what a reader needs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoEndpoint(f"http://127.0.0.1:{port}", region)
    finally:
        server.stop()
