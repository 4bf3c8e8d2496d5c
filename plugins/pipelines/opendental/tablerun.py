"""One table's run, as a typed record handed from stage to stage (extract -> load -> transform -> validation),
and the one rule that decides how much of a table a stage rewrites.

Every stage asks ``decide_mode`` with the facts about its own target (is it there and shaped like its
input, and where did its last run stop): a full rewrite unless the plan's incremental or append-only mode
can continue from a known position. The run's mode is extract's; a later stage rebuilds its target only
when that target cannot continue (missing, drifted, or rebuilt upstream). Crossing XCom the record is a
plain dict (``to_xcom``/``from_xcom``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from pipelines.opendental.config import Stage, Strategy
from pipelines.opendental.plan import TablePlan
from pipelines.opendental.state import window_start

Mode = Strategy


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Window(Record):
    """The rows a non-full run reads: ``column >= value`` (incremental, watermark minus overlap) or
    ``column > value`` (append-only, past the last key)."""

    column: str
    value: str | int
    inclusive: bool

    def condition(self, quote: Callable[[str], str], prefix: str = "") -> tuple[str, list[Any]]:
        """SQL condition and its parameter, the column quoted by ``quote`` (``mysql_ident``/``pg_ident``)."""
        return f"{prefix}{quote(self.column)} {'>=' if self.inclusive else '>'} %s", [self.value]

    def on(self, column: str) -> Window:
        """The same window on the column's name in another stage (``public`` is snake_case)."""
        return self.model_copy(update={"column": column})

    @property
    def text(self) -> str:
        return f"{self.column} {'>=' if self.inclusive else '>'} {self.value}"

    @property
    def label(self) -> str:
        return str(self.value) if self.inclusive else f"{self.column} > {self.value}"


def window_for(plan: TablePlan, *, last_value: str | None = None, last_key: Any = None,
               overlap: timedelta = timedelta(0)) -> Window | None:
    """Where a stage continues from its target's last position (None: unknown, or a full strategy)."""
    if plan.strategy == "incremental" and plan.watermark_column:
        since = window_start(last_value, overlap)
        return None if since is None else Window(column=plan.watermark_column, value=since, inclusive=True)
    if plan.strategy == "append_only" and plan.key_column and last_key is not None:
        return Window(column=plan.key_column, value=int(last_key), inclusive=False)
    return None


def decide_mode(plan: TablePlan, *, in_sync: bool, window: Window | None) -> Mode:
    """The one rule: ``full`` when forced, when the strategy is full, when the stage's target is not in
    step with its input (missing, drifted, rebuilt upstream) or when its position is unknown; else the
    plan's strategy, continued from ``window``."""
    if plan.force or plan.strategy == "full" or not in_sync or window is None:
        return "full"
    return plan.strategy


class StageMetrics(Record):
    mode: Mode
    rows: int
    seconds: float
    window: Window | None = None
    total_rows: int | None = None  # the target's whole-table count, when the stage took it anyway
    copy_seconds: float | None = None
    deleted: int = 0  # rows deleted at the source, removed from this stage's target
    verified: int = 0  # source rows whose content was compared with the replica (extract)
    repaired: int = 0  # rows changed in place at the source, rewritten in this stage's target
    # Cells this stage changed by a documented conversion, {column: {kind: cells}} (README "Conversions").
    conversions: dict[str, dict[str, int]] = Field(default_factory=dict)


class Counts(Record):
    """Row counts at every stage for one table and run (whole tables, and this run's window)."""

    table: str
    strategy: Strategy
    mode: Mode
    source_rows: int | None
    replica_rows: int
    raw_rows: int
    public_rows: int
    window_start: str | None = None
    changed_source: int | None = None
    changed_replica: int | None = None
    changed_raw: int | None = None
    deleted_replica: int = 0
    deleted_raw: int = 0
    deleted_public: int = 0
    verified_rows: int = 0
    repaired_replica: int = 0
    repaired_raw: int = 0
    repaired_public: int = 0
    conversions: dict[str, dict[str, int]] = Field(default_factory=dict)  # the load's, {column: {kind: cells}}

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


class TableRun(Record):
    """What one table's run has done so far. ``mode`` and ``window`` are extract's: the rows this run
    moved at the source, which validation counts again at every stage."""

    plan: TablePlan
    mode: Mode
    window: Window | None = None
    schema_drift: bool = False
    watermark: str | None = None
    stages: dict[Stage, StageMetrics] = Field(default_factory=dict)
    validation: Counts | None = None
    lookback: Window | None = None  # rows re-read by business date (the table's look-back), every stage

    @computed_field  # type: ignore[prop-decorator]
    @property
    def table(self) -> str:
        return self.plan.table

    @computed_field  # type: ignore[prop-decorator]
    @property
    def strategy(self) -> Strategy:
        return self.plan.strategy  # type: ignore[return-value]

    def stage(self, name: Stage) -> StageMetrics | None:
        return self.stages.get(name)

    def deleted(self, name: Stage) -> int:
        stage = self.stages.get(name)
        return stage.deleted if stage else 0

    def repaired(self, name: Stage) -> int:
        stage = self.stages.get(name)
        return stage.repaired if stage else 0

    def conversions(self, name: Stage) -> dict[str, dict[str, int]]:
        stage = self.stages.get(name)
        return stage.conversions if stage else {}

    def rebuilt(self, name: Stage) -> bool:
        stage = self.stages.get(name)
        return stage is not None and stage.mode == "full"

    def with_stage(self, name: Stage, metrics: StageMetrics) -> TableRun:
        return self.model_copy(update={"stages": {**self.stages, name: metrics}})

    def validated(self, counts: Counts) -> TableRun:
        return self.model_copy(update={"validation": counts})

    def to_xcom(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def from_xcom(cls, data: dict[str, Any]) -> TableRun:
        return cls.model_validate(data)
