"""The partitions file: which databases, policies and commands belong to each data partition.

Read at DAG parse time, so it touches only the local file: no database, no network. Any problem is
raised as one ``PartitionConfigError`` whose message is a single line naming the file and the field,
which the DAG processor shows as the import error of ``dags/fileload_insight.py``.
"""

from __future__ import annotations

import os
import re
import string
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.common.paths import config_path

#: Names the partitions file for tests and the demo; the default is include/config/partitions.yaml.
PARTITIONS_FILE_ENV = "FILELOAD_INSIGHT_PARTITIONS_FILE"

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
DATABASE_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: Placeholders a command's arguments may use; values are paths and names, never credentials.
COMMAND_PLACEHOLDERS = frozenset({"partition", "lockfile", "member_repository_db", "outcomes_identification_db"})
RESERVED_ENV = frozenset({"DB_PASSWORD", "DB_USER", "DB_HOST", "DB_PORT"})


class PartitionConfigError(ValueError):
    """The partitions file is missing or invalid; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Command(_Strict):
    """A program invocation: argv (no shell) and extra non-secret environment variables."""

    argv: list[str] = Field(min_length=1)
    env: dict[str, str] = Field(default_factory=dict)
    timeout_minutes: int = Field(default=240, ge=1)

    @field_validator("argv")
    @classmethod
    def _known_placeholders(cls, argv: list[str]) -> list[str]:
        for arg in argv:
            for _, name, _, _ in string.Formatter().parse(arg):
                if name is not None and name not in COMMAND_PLACEHOLDERS:
                    allowed = ", ".join(sorted(COMMAND_PLACEHOLDERS))
                    raise ValueError(f"unknown placeholder {{{name}}} (allowed: {allowed})")
        return argv

    @field_validator("env")
    @classmethod
    def _no_credentials(cls, env: dict[str, str]) -> dict[str, str]:
        clash = sorted(RESERVED_ENV & env.keys())
        if clash:
            raise ValueError(f"{', '.join(clash)} come from the Airflow connection, not the config")
        return env

    def render_argv(self, values: dict[str, str]) -> list[str]:
        return [arg.format_map(values) for arg in self.argv]


class InsightStep(Command):
    name: str

    @field_validator("name")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise ValueError(f"step name {name!r} must be a lower-case identifier")
        return name


class Insight(_Strict):
    steps: list[InsightStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_step_names(cls, steps: list[InsightStep]) -> list[InsightStep]:
        duplicates = sorted(name for name, n in Counter(step.name for step in steps).items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate step names: {', '.join(duplicates)}")
        return steps


class Schedules(_Strict):
    """Cron expressions (or null for manual runs only) in UTC."""

    fileload: str | None = "0 1 * * *"
    insight: str | None = "0 4 * * *"


class Partition(_Strict):
    name: str = ""
    conn_id: str
    member_repository_db: str
    outcomes_identification_db: str
    volume: str | None = None
    policies: list[int] = Field(min_length=1)
    schedules: Schedules = Field(default_factory=Schedules)
    fileload: Command
    insight: Insight

    @field_validator("member_repository_db", "outcomes_identification_db")
    @classmethod
    def _database_identifier(cls, name: str) -> str:
        if not DATABASE_PATTERN.match(name):
            raise ValueError(f"database name {name!r} is not an identifier")
        return name

    @field_validator("conn_id")
    @classmethod
    def _conn_identifier(cls, conn_id: str) -> str:
        if not DATABASE_PATTERN.match(conn_id):
            raise ValueError(f"connection id {conn_id!r} is not an identifier")
        return conn_id

    @property
    def pool(self) -> str:
        return f"partition_{self.name}"

    def databases(self) -> list[tuple[str, str]]:
        """(connection, database) pairs this partition writes to."""
        return [(self.conn_id, self.member_repository_db), (self.conn_id, self.outcomes_identification_db)]


class PartitionsConfig(_Strict):
    #: Directory where PUP_fileload keeps its lockfiles (``pup_fileload.<p>.lock``).
    lock_dir: str = "/var/lock/pup_fileload"
    #: An Insight lock flag (or a run lock) older than this is reported as stale.
    stale_lock_minutes: int = Field(default=720, ge=1)
    #: How often a run waiting for its partition's run lock checks again (it holds no slot meanwhile).
    lock_poke_seconds: int = Field(default=60, ge=1)
    #: How long a run waits for its partition's run lock before it fails.
    lock_wait_hours: float = Field(default=12, gt=0)
    task_retries: int = Field(default=2, ge=1)
    retry_delay_seconds: int = Field(default=300, ge=0)
    partitions: dict[str, Partition] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _name_partitions(cls, data: Any) -> Any:
        if isinstance(data, dict):  # x-* keys hold YAML anchors shared by partitions, as in docker-compose
            data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
        if isinstance(data, dict) and isinstance(data.get("partitions"), dict):
            data = {**data, "partitions": {
                name: {**body, "name": name} if isinstance(body, dict) else body
                for name, body in data["partitions"].items()
            }}
        return data

    @model_validator(mode="after")
    def _partitions_do_not_collide(self) -> PartitionsConfig:
        for name in self.partitions:
            if not NAME_PATTERN.match(str(name)):
                raise ValueError(f"partition name {name!r} must be a lower-case identifier (a, b, walmart)")
        _require_unique("policy", ((policy, p.name) for p in self.partitions.values() for policy in p.policies))
        _require_unique("database", ((f"{conn}/{db}", p.name) for p in self.partitions.values()
                                     for conn, db in p.databases()))
        for partition in self.partitions.values():
            if partition.member_repository_db == partition.outcomes_identification_db:
                raise ValueError(f"partition {partition.name}: both databases are {partition.member_repository_db}")
        return self

    def __iter__(self) -> Iterator[Partition]:  # type: ignore[override]
        return iter(self.partitions.values())

    def lockfile(self, partition: Partition) -> Path:
        return Path(self.lock_dir) / f"pup_fileload.{partition.name}.lock"


def _require_unique(what: str, owned: Iterator[tuple[Any, str]]) -> None:
    """Each ``what`` belongs to one partition at most (policy sets and database pairs are disjoint)."""
    owners: dict[Any, str] = {}
    for item, partition in owned:
        if item in owners and owners[item] != partition:
            raise ValueError(f"{what} {item} is in partitions {owners[item]} and {partition}; they must be disjoint")
        owners[item] = partition


def partitions_file() -> Path:
    override = os.environ.get(PARTITIONS_FILE_ENV)
    return Path(override) if override else config_path("partitions.yaml")


def parse_partitions(data: Any, source: str = "partitions.yaml") -> PartitionsConfig:
    try:
        return PartitionsConfig.model_validate(data)
    except ValidationError as exc:
        raise PartitionConfigError(f"{source}: {_one_line(exc)}") from None


def load_partitions(path: Path | None = None) -> PartitionsConfig:
    """Read and validate the partitions file (``$FILELOAD_INSIGHT_PARTITIONS_FILE`` or the default)."""
    path = path or partitions_file()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PartitionConfigError(f"{path.name}: cannot read the partitions file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise PartitionConfigError(f"{path.name}: not valid YAML{where}") from None
    return parse_partitions(data, path.name)


def _one_line(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}" if location else message)
    return "; ".join(problems)
