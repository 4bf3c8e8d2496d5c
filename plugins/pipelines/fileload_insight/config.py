"""The partitions file: which databases, policies and commands belong to each data partition.

Read at DAG parse time, so it touches only the local file (``include/config/fileload_insight.yaml``; a
deployment or a test moves the whole include directory with ``PIPELINES_INCLUDE_DIR``): no database, no
network. Any problem is raised as one ``PartitionConfigError`` whose message is a single line naming the
file and the field, which the DAG processor shows as the import error of ``dags/fileload_insight.py``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from pipelines.common import config as common
from pipelines.common.config import ConfigError, StrictModel
from pipelines.common.identifiers import require_identifier
from pipelines.common.paths import config_path
from pipelines.fileload_insight.errors import PartitionConfigError

CONFIG_FILE = "fileload_insight.yaml"
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
#: Placeholders a command's arguments may use; values are paths and names, never credentials.
COMMAND_PLACEHOLDERS = frozenset({"partition", "lockfile", "member_repository_db", "outcomes_identification_db"})
RESERVED_ENV = frozenset({"DB_PASSWORD", "DB_USER", "DB_HOST", "DB_PORT"})

DatabaseName = Annotated[str, AfterValidator(lambda name: require_identifier(name, "database name"))]
ConnectionId = Annotated[str, AfterValidator(lambda name: require_identifier(name, "connection id"))]


class Command(StrictModel):
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


class Insight(StrictModel):
    steps: list[InsightStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _unique_step_names(cls, steps: list[InsightStep]) -> list[InsightStep]:
        duplicates = sorted(name for name, n in Counter(step.name for step in steps).items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate step names: {', '.join(duplicates)}")
        return steps


class Schedules(StrictModel):
    """Cron expressions (or null for manual runs only) in UTC."""

    fileload: str | None = "0 1 * * *"
    insight: str | None = "0 4 * * *"


class Partition(StrictModel):
    name: str = ""
    conn_id: ConnectionId
    member_repository_db: DatabaseName
    outcomes_identification_db: DatabaseName
    volume: str | None = None
    policies: list[int] = Field(min_length=1)
    schedules: Schedules = Field(default_factory=Schedules)
    fileload: Command
    insight: Insight

    @property
    def pool(self) -> str:
        return f"partition_{self.name}"

    def databases(self) -> list[tuple[str, str]]:
        """(connection, database) pairs this partition writes to."""
        return [(self.conn_id, self.member_repository_db), (self.conn_id, self.outcomes_identification_db)]


class PartitionsConfig(StrictModel):
    #: Directory where PUP_fileload keeps its lockfiles (``pup_fileload.<p>.lock``).
    lock_dir: str = "/var/lock/pup_fileload"
    #: An Insight lock flag (or a run lock) older than this is reported as stale.
    stale_lock_minutes: int = Field(default=720, ge=1)
    #: How often a run waiting for its partition's run lock checks again (it holds no slot meanwhile).
    lock_poke_seconds: int = Field(default=60, ge=1)
    #: How long a run waits for its partition's run lock before it fails.
    lock_wait_hours: float = Field(default=12, gt=0)
    #: How long a run blocked by a stale lock waits for a human to approve or reject the takeover; unanswered,
    #: the run fails.
    takeover_decision_hours: float = Field(default=4, gt=0)
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


def load_settings(path: Path | None = None) -> PartitionsConfig:
    """Read and validate the partitions file (``include/config/fileload_insight.yaml`` unless ``path``)."""
    path = path or config_path(CONFIG_FILE)
    try:
        return common.validate(PartitionsConfig, common.read_document(path), path.name)
    except ConfigError as exc:  # the family's class, so the import error says which file family
        raise PartitionConfigError(str(exc)) from None
