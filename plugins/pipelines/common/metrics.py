"""Per-table and per-partition figures through Airflow's metrics facility (StatsD), named and tagged as in
docs/observability.md.

Every figure is ``pipelines.<figure>`` with tags ``family`` and ``table`` or ``partition`` (and ``stage``
where a figure is per stage). Airflow's ``[metrics]`` section decides where they go: ``statsd_on``,
``statsd_host``/``statsd_port``, ``statsd_prefix`` (``airflow``) and ``statsd_influxdb_enabled = True`` so
the tags travel as ``name,tag=value`` (which the Prometheus statsd-exporter reads). The task runner sets
the backend up from that section; with metrics off every call is a no-op.

Tags carry ids, table names, partition labels and stage names only: never a row value.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

PREFIX = "pipelines"
# StatsD names and InfluxDB-style tags take these characters only (a partition ``rem=1/4`` is ``rem_1_4``).
UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
#: figure -> StatsD kind. Counters add up per night; gauges are the latest run's value; timings in ms.
FIGURES: dict[str, str] = {
    "rows_read": "counter",
    "rows_written": "counter",
    "rows_skipped": "counter",
    "rows_deleted": "counter",
    "rows_repaired": "counter",
    "mapping_failures": "counter",
    "values_converted": "counter",
    "rows_per_second": "gauge",
    "watermark_lag_seconds": "gauge",
    "lock_wait_seconds": "gauge",
    "duration": "timing",
}


def _stats() -> Any:
    from airflow.sdk.observability import stats

    return stats


def emit(family: str, figures: Mapping[str, float | int | None], **tags: Any) -> None:
    """Send ``figures`` (``{figure: value}``, None skipped) tagged with ``family`` and ``tags``. Never raises:
    a metrics backend must not fail the work it measures. ``duration`` is in seconds."""
    labels = {"family": family, **{k: tag_value(v) for k, v in tags.items() if v is not None}}
    try:
        stats = _stats()
        for figure, value in figures.items():
            if value is None:
                continue
            kind, name = FIGURES[figure], f"{PREFIX}.{figure}"
            if kind == "counter":
                stats.incr(name, count=int(value), tags=labels)
            elif kind == "gauge":
                stats.gauge(name, float(value), tags=labels)
            else:
                stats.timing(name, float(value) * 1000.0, tags=labels)
    except Exception as exc:
        log.warning("metrics not sent (%s: %s)", type(exc).__name__, str(exc)[:200])


def tag_value(value: Any) -> str:
    return UNSAFE.sub("_", str(value))


def lag_seconds(watermark: str | datetime | None, now: datetime | None = None) -> float | None:
    """Seconds between a stored watermark (ISO text or datetime; naive is UTC) and now."""
    if not watermark:
        return None
    try:
        moment = watermark if isinstance(watermark, datetime) else datetime.fromisoformat(str(watermark))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, ((now or datetime.now(UTC)) - moment).total_seconds())


class Stopwatch:
    """``with Stopwatch() as waited: ...`` then ``waited.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.monotonic() - self._start


# --- the families' figures, from the results their tasks return (one call in each task) ----------------

def appxml_partition(result: Mapping[str, Any]) -> None:
    """A staging partition: documents read, staged, skipped (by reason), rate and duration."""
    label = result.get("partition")
    emit("appxml", {"rows_read": result.get("processed"), "rows_written": result.get("staged"),
                    "rows_per_second": result.get("rows_per_sec"), "duration": result.get("duration_s")},
         partition=label, table="dbo.app_xml_staging")
    for reason, count in (result.get("skipped") or {}).items():
        emit("appxml", {"rows_skipped": count}, partition=label, reason=reason)


def mapping_partition(result: Mapping[str, Any]) -> None:
    """A mapping partition: applications read and mapped, rows per target table, failures by stage."""
    label = result.get("partition")
    emit("xml_mapping", {"rows_read": result.get("processed"), "rows_per_second": result.get("docs_per_sec"),
                         "duration": result.get("duration_s")}, partition=label)
    for table, rows in (result.get("rows_per_table") or {}).items():
        emit("xml_mapping", {"rows_written": rows}, partition=label, table=table)
    for stage, failed in (result.get("failed_by_stage") or {}).items():
        emit("xml_mapping", {"mapping_failures": failed}, partition=label, stage=stage)
    for column, kinds in (result.get("conversions") or {}).items():
        table, _, name = column.partition(".")
        values_converted("xml_mapping", kinds, partition=label, table=table, column=name)


def values_converted(family: str, kinds: Mapping[str, int], **tags: Any) -> None:
    """What conversions changed in one column, by kind (``{kind: values}``): the documented conversions
    (docs/pipelines), so a dashboard sees a night whose source started sending values the target cannot hold."""
    for kind, count in kinds.items():
        emit(family, {"values_converted": count}, kind=kind, **tags)


def opendental_stage(run: Mapping[str, Any], stage: str) -> None:
    """One OpenDental table's stage (a ``TableRun`` as XCom): rows, rate, duration, deleted and repaired
    rows, and after extract the lag of the table's watermark."""
    metrics = (run.get("stages") or {}).get(stage)
    if not metrics:
        return
    rows, seconds = metrics.get("rows"), metrics.get("seconds") or 0.0
    emit("opendental", {
        "rows_read": rows, "rows_written": rows, "duration": seconds,
        "rows_per_second": round(rows / seconds, 1) if rows is not None and seconds > 0 else None,
        "rows_deleted": metrics.get("deleted"), "rows_repaired": metrics.get("repaired"),
        "watermark_lag_seconds": lag_seconds(run.get("watermark")) if stage == "extract" else None,
    }, table=run.get("table"), stage=stage)
    for column, kinds in (metrics.get("conversions") or {}).items():
        values_converted("opendental", kinds, table=run.get("table"), stage=stage, column=column)
