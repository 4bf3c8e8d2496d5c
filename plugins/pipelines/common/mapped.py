"""Mapped tasks: the label of a mapped task instance, and the return values as the downstream task receives
them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")

#: The ``map_index_template`` of a mapped task labelled by ``label_mapped_instance``.
MAP_INDEX_TEMPLATE = "{{ mapped_label }}"
LABEL_KEY = "mapped_label"


def label_mapped_instance(label: str) -> Any:
    """Name the running mapped task instance ``label`` (e.g. ``rem=3/8``, or a table's name) in the UI,
    through ``map_index_template=MAP_INDEX_TEMPLATE``; returns the task's context, where an alert callback
    finds the label again (``mapped_label``)."""
    from airflow.sdk import get_current_context  # imports Airflow: only where a task runs

    context = get_current_context()
    context[LABEL_KEY] = label  # type: ignore[literal-required]
    return context


def mapped_label(context: Mapping[str, Any]) -> str | None:
    """The label ``label_mapped_instance`` gave the instance, or None (not mapped, or failed before it)."""
    return context.get(LABEL_KEY)


def mapped_results(values: Sequence[T]) -> list[T]:
    """Every instance's value, read by index after one count. Iterating Airflow's lazy sequence instead ends
    with a lookup past the last value, which the task SDK logs as ``[error] XCom not found`` in a green run."""
    return [values[index] for index in range(len(values))]
