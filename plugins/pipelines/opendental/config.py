"""The pipeline's settings from include/config/opendental_tables.yaml (read at parse time: a local file)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.common.paths import config_path

CONFIG_FILE = "opendental_tables.yaml"
CONFIG_ENV = "OPENDENTAL_ETL_CONFIG"
SOURCE_CONN_ID = "opendental_source"
REPLICA_CONN_ID = "opendental_replication"
ANALYTICS_CONN_ID = "opendental_analytics"
STRATEGIES = ("incremental", "append_only", "full")


@dataclass(frozen=True)
class TableOverride:
    strategy: str | None = None
    watermark: str | None = None
    priority: int | None = None
    exclude: bool = False


@dataclass(frozen=True)
class Settings:
    cron: str = "0 1 * * *"
    timezone: str = "America/Chicago"
    business_start: time = time(6, 0)
    business_end: time = time(21, 0)
    retries: int = 3
    retry_delay: timedelta = timedelta(minutes=5)
    timeouts: dict[str, timedelta] = field(default_factory=lambda: {
        "extract": timedelta(minutes=30), "load": timedelta(minutes=45), "transform": timedelta(minutes=60)})
    batch_rows: int = 50_000
    statement_bytes: int = 4_000_000
    overlap: timedelta = timedelta(minutes=5)
    fetch_rows: int = 20_000
    parallel_default: int = 2
    parallel_max: int = 8
    watermark_columns: tuple[str, ...] = ("DateTStamp", "SecDateTEdit", "SecDateTEntry", "DateTEntry",
                                          "DateTimeModified", "DateModified", "DateTimeCreated", "DateCreated")
    priority_tables: tuple[str, ...] = ("patient", "appointment", "procedurelog", "claimproc", "payment")
    tables: dict[str, TableOverride] = field(default_factory=dict)

    def override(self, table: str) -> TableOverride:
        return self.tables.get(table.lower(), TableOverride())


def _clock(text: str) -> time:
    hours, minutes = str(text).split(":")
    return time(int(hours), int(minutes))


def _override(table: str, raw: dict[str, Any]) -> TableOverride:
    unknown = set(raw) - {"strategy", "watermark", "priority", "exclude"}
    if unknown:
        raise ValueError(f"{CONFIG_FILE}: table {table}: unknown keys {sorted(unknown)}")
    strategy = raw.get("strategy")
    if strategy is not None and strategy not in STRATEGIES:
        raise ValueError(f"{CONFIG_FILE}: table {table}: strategy must be one of {', '.join(STRATEGIES)}")
    return TableOverride(strategy, raw.get("watermark"), raw.get("priority"), bool(raw.get("exclude", False)))


def parse_settings(data: dict[str, Any]) -> Settings:
    schedule, stages = data.get("schedule", {}), data.get("stages", {})
    extract, load, parallel = data.get("extract", {}), data.get("load", {}), data.get("parallel", {})
    defaults = Settings()
    hours = schedule.get("business_hours", {})
    timeouts = {**{k: int(v.total_seconds() // 60) for k, v in defaults.timeouts.items()},
                **stages.get("timeout_minutes", {})}
    return Settings(
        cron=schedule.get("cron", defaults.cron),
        timezone=schedule.get("timezone", defaults.timezone),
        business_start=_clock(hours.get("start", "06:00")),
        business_end=_clock(hours.get("end", "21:00")),
        retries=int(stages.get("retries", defaults.retries)),
        retry_delay=timedelta(minutes=float(stages.get("retry_delay_minutes", 5))),
        timeouts={stage: timedelta(minutes=float(minutes)) for stage, minutes in timeouts.items()},
        batch_rows=int(extract.get("batch_rows", defaults.batch_rows)),
        statement_bytes=int(extract.get("statement_bytes", defaults.statement_bytes)),
        overlap=timedelta(minutes=float(extract.get("overlap_minutes", 5))),
        fetch_rows=int(load.get("fetch_rows", defaults.fetch_rows)),
        parallel_default=int(parallel.get("default", defaults.parallel_default)),
        parallel_max=int(parallel.get("max", defaults.parallel_max)),
        watermark_columns=tuple(data.get("watermark_columns", defaults.watermark_columns)),
        priority_tables=tuple(t.lower() for t in data.get("priority_tables", defaults.priority_tables)),
        tables={name.lower(): _override(name, spec or {}) for name, spec in (data.get("tables") or {}).items()},
    )


def load_settings(path: Path | None = None) -> Settings:
    """Settings from the YAML file (defaults for anything it leaves out); ``OPENDENTAL_ETL_CONFIG`` may name
    another file (a test or staging environment with other retries or windows)."""
    return _read_settings(path or Path(os.environ.get(CONFIG_ENV) or config_path(CONFIG_FILE)))


@lru_cache(maxsize=8)
def _read_settings(path: Path) -> Settings:
    return parse_settings(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
