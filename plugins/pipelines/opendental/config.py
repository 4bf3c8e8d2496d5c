"""The pipeline's settings from include/config/opendental.yaml (read at parse time: a local file).

The model mirrors the file's sections; the properties give the stages flat, typed values
(``settings.overlap``, ``settings.timeouts["load"]``). Anything the file leaves out keeps its default.
"""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any, Literal, get_args

from pydantic import Field, PositiveInt, field_validator, model_validator

from pipelines.common.config import StrictModel, load_config
from pipelines.common.identifiers import require_identifier
from pipelines.opendental.checkspec import BusinessCheck

CONFIG_FILE = "opendental.yaml"
SOURCE_CONN_ID = "opendental_source"
REPLICA_CONN_ID = "opendental_replication"
ANALYTICS_CONN_ID = "opendental_analytics"
Strategy = Literal["incremental", "append_only", "full"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)
# The copying stages, in run order: the one list the stage records, timeouts, lineage and summary use.
Stage = Literal["extract", "load", "transform"]
STAGES: tuple[Stage, ...] = get_args(Stage)


class LookBack(StrictModel):
    """Re-read on every incremental run the rows whose business date ``column`` is in the last ``days``."""

    column: str
    days: PositiveInt


class TableOverride(StrictModel):
    strategy: Strategy | None = None
    watermark: str | None = None
    priority: int | None = None
    exclude: bool = False
    verify_every_nights: int | None = Field(None, ge=0)  # the table's own coverage (0: not verified)
    lookback: LookBack | None = None


class BusinessHours(StrictModel):
    start: time = time(6, 0)
    end: time = time(21, 0)


class Schedule(StrictModel):
    # The cron itself is in the DAG file (dags/opendental_nightly.py); its zone and the gate are settings.
    timezone: str = "America/Chicago"
    business_hours: BusinessHours = BusinessHours()

    @model_validator(mode="before")
    @classmethod
    def _cron_moved(cls, data: Any) -> Any:
        if isinstance(data, dict) and "cron" in data:  # a settings file written before the cron moved
            raise ValueError("cron is no longer a setting: the nightly cron is in dags/opendental_nightly.py "
                             "(NIGHTLY); remove it here")
        return data


class Timeouts(StrictModel):
    extract: float = Field(30, gt=0)
    load: float = Field(45, gt=0)
    transform: float = Field(60, gt=0)


class Stages(StrictModel):
    retries: int = Field(3, ge=1)
    retry_delay_minutes: float = Field(5, ge=0)
    timeout_minutes: Timeouts = Timeouts()


class ExtractSettings(StrictModel):
    batch_rows: PositiveInt = 50_000
    statement_bytes: PositiveInt = 4_000_000
    overlap_minutes: float = Field(5, ge=0)


class LoadSettings(StrictModel):
    fetch_rows: PositiveInt = 20_000


class VerifySettings(StrictModel):
    """Content verification of incremental and append-only tables (source vs replica, whole rows)."""

    every_nights: int = Field(1, ge=0)  # 1: every row every night; N: a rolling 1/N share; 0: off
    chunk_keys: PositiveInt = 1_000_000  # key span per first-level statement (bounded reads on large tables)


class Parallel(StrictModel):
    default: PositiveInt = 2
    max: PositiveInt = 8


class Settings(StrictModel):
    schedule: Schedule = Schedule()
    stages: Stages = Stages()
    extract: ExtractSettings = ExtractSettings()
    load: LoadSettings = LoadSettings()
    verify: VerifySettings = VerifySettings()
    parallel: Parallel = Parallel()
    watermark_columns: tuple[str, ...] = ("DateTStamp", "SecDateTEdit", "SecDateTEntry", "DateTEntry",
                                          "DateTimeModified", "DateModified", "DateTimeCreated", "DateCreated")
    priority_tables: tuple[str, ...] = ("patient", "appointment", "procedurelog", "claimproc", "payment")
    tables: dict[str, TableOverride] = Field(default_factory=dict)
    business_checks: dict[str, BusinessCheck] = Field(default_factory=dict)

    @field_validator("business_checks", mode="before")
    @classmethod
    def _check_names(cls, checks: Any) -> Any:
        """Check names are recorded and shown in alerts: identifiers only."""
        for name in checks or {}:
            require_identifier(str(name), "business check name")
        return checks or {}

    @field_validator("priority_tables")
    @classmethod
    def _lower_priorities(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(name.lower() for name in names)

    @field_validator("tables", mode="before")
    @classmethod
    def _check_overrides(cls, tables: Any) -> Any:
        """Table names are matched case-insensitively; a bad override names its table in one line."""
        if not isinstance(tables, dict):
            return tables or {}
        checked = {}
        for name, spec in tables.items():
            spec = spec or {}
            if isinstance(spec, dict):
                unknown = sorted(set(spec) - set(TableOverride.model_fields))
                if unknown:
                    raise ValueError(f"table {name}: unknown keys {unknown}")
                if spec.get("strategy") not in (None, *STRATEGIES):
                    raise ValueError(f"table {name}: strategy must be one of {', '.join(STRATEGIES)}")
            checked[str(name).lower()] = spec
        return checked

    def override(self, table: str) -> TableOverride:
        return self.tables.get(table.lower(), TableOverride())

    @property
    def timezone(self) -> str:
        return self.schedule.timezone

    @property
    def business_start(self) -> time:
        return self.schedule.business_hours.start

    @property
    def business_end(self) -> time:
        return self.schedule.business_hours.end

    @property
    def retries(self) -> int:
        return self.stages.retries

    @property
    def retry_delay(self) -> timedelta:
        return timedelta(minutes=self.stages.retry_delay_minutes)

    @property
    def timeouts(self) -> dict[str, timedelta]:
        minutes = self.stages.timeout_minutes
        return {stage: timedelta(minutes=getattr(minutes, stage)) for stage in STAGES}

    @property
    def table_timeout(self) -> timedelta:
        """A table's task runs its stages one after another, so it may take the sum of their timeouts."""
        return sum(self.timeouts.values(), timedelta(0))

    @property
    def batch_rows(self) -> int:
        return self.extract.batch_rows

    @property
    def statement_bytes(self) -> int:
        return self.extract.statement_bytes

    @property
    def overlap(self) -> timedelta:
        return timedelta(minutes=self.extract.overlap_minutes)

    @property
    def fetch_rows(self) -> int:
        return self.load.fetch_rows

    def verify_every_nights(self, table: str) -> int:
        own = self.override(table).verify_every_nights
        return self.verify.every_nights if own is None else own

    @property
    def parallel_default(self) -> int:
        return self.parallel.default

    @property
    def parallel_max(self) -> int:
        return self.parallel.max


def load_settings() -> Settings:
    """The deployment's settings (``PIPELINES_INCLUDE_DIR`` points at another include/ for a test or a
    staging environment with other retries or windows)."""
    return load_config(Settings, CONFIG_FILE)
