"""One way to read a deployment's settings: a YAML (or JSON) file under ``include/config/`` validated into a
typed, strict pydantic model.

Every problem (missing file, bad YAML, unknown key, wrong type, failed check) is one ``ConfigError`` whose
message is a single line naming the file and the field, e.g. ``fileload_insight.yaml: partitions.a.policies: ...``.
Files are read from the include directory (``PIPELINES_INCLUDE_DIR`` moves all of it, see ``paths``); the
loaders only touch the local file, so they are safe at DAG parse time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.common.errors import PermanentError
from pipelines.common.paths import config_path

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(PermanentError, ValueError):
    """A configuration file is missing or invalid; the message is one line naming the file and the field."""


class StrictModel(BaseModel):
    """Base of every settings model: unknown keys are errors (a typo never silently falls back to a
    default) and loaded settings are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_document(path: Path) -> Any:
    """The parsed content of a YAML or JSON file; a ``ConfigError`` with the file name and line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path.name}: not valid JSON at line {exc.lineno}: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path.name}: not valid YAML{where}") from None


def validate(model: type[Model], data: Any, source: str) -> Model:
    """``data`` validated as ``model``; a ``ConfigError`` prefixed with ``source`` otherwise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {one_line(exc)}") from None


def load_config(model: type[Model], name: str | Path) -> Model:
    """The settings file ``name`` (relative to ``include/config/``, or a path) validated as ``model``."""
    path = Path(name) if Path(name).is_absolute() else config_path(str(name))
    return validate(model, read_document(path), path.name)


def one_line(exc: ValidationError) -> str:
    """All of a pydantic error's problems as ``field.path: message`` on one line."""
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)
