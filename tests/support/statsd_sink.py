"""A local UDP port standing in for a StatsD server, and Airflow's metrics pointed at it the way the task
runner sets them up from ``[metrics]`` (``statsd_on``, InfluxDB-style tags)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

# name[,tag=value...]:value|type
DATAGRAM = re.compile(r"^(?P<name>[^,:]+)(?P<tags>(?:,[^,:=]+=[^,:]*)*):(?P<value>[-0-9.e]+)\|(?P<kind>c|g|ms)")


@dataclass(frozen=True)
class Metric:
    name: str
    tags: dict[str, str]
    value: float
    kind: str


@dataclass
class StatsdSink:
    sock: socket.socket
    received: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def metrics(self, timeout: float = 0.5) -> list[Metric]:
        """Every datagram received so far (waits ``timeout`` for the last ones)."""
        self.sock.settimeout(timeout)
        while True:
            try:
                self.received.extend(self.sock.recv(65535).decode().splitlines())
            except TimeoutError:
                break
        parsed = []
        for line in self.received:
            match = DATAGRAM.match(line)
            assert match, f"not a StatsD datagram: {line!r}"
            tags = dict(pair.split("=", 1) for pair in match["tags"].split(",") if pair)
            parsed.append(Metric(match["name"], tags, float(match["value"]), match["kind"]))
        return parsed


@contextmanager
def statsd_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[StatsdSink]:
    from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sink = StatsdSink(sock)
    for key, value in {"STATSD_ON": "True", "STATSD_HOST": "127.0.0.1", "STATSD_PORT": str(sink.port),
                       "STATSD_PREFIX": "airflow", "STATSD_INFLUXDB_ENABLED": "True"}.items():
        monkeypatch.setenv(f"AIRFLOW__METRICS__{key}", value)
    # What the task runner does at start-up (dag.test() runs tasks in this process, which never did it).
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    try:
        yield sink
    finally:
        stats.initialize(factory=NoStatsLogger, export_legacy_names=False)
        sock.close()
