"""Mapped tasks: the label of a mapped task instance, and the return values as the downstream task receives
them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: The ``map_index_template`` of a mapped task labelled by ``label_mapped_instance``.
MAP_INDEX_TEMPLATE = "{{ partition_label }}"


def label_mapped_instance(label: str) -> Any:
    """Name the running mapped task instance ``label`` (e.g. ``rem=3/8``) in the UI, through
    ``map_index_template=MAP_INDEX_TEMPLATE``; returns the task's context."""
    from airflow.sdk import get_current_context  # imports Airflow: only where a task runs

    context = get_current_context()
    context["partition_label"] = label  # type: ignore[typeddict-unknown-key]
    return context


def mapped_results(values: Sequence[T]) -> list[T]:
    """Every instance's value, read by index after one count. Iterating Airflow's lazy sequence instead ends
    with a lookup past the last value, which the task SDK logs as ``[error] XCom not found`` in a green run."""
    return [values[index] for index in range(len(values))]
