"""Settings of the Flywheel Glue pipelines: include/config/flywheel.yaml as one typed, strict model.

The file holds settings shared by every environment (connection, bucketing, waits, Glue job names) and,
under ``environments``, what differs per environment (buckets, database, Athena). ``load_environment(env)``
gives one environment's view of both. The environment is an Airflow Variable (``flywheel_env``, default
``dev``) read when a task runs, never when a DAG file is parsed, so switching environments needs no
redeploy and parsing touches no database.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, PositiveInt
from typing_extensions import TypedDict

from pipelines.common import config as common
from pipelines.common.config import ConfigError, StrictModel
from pipelines.common.identifiers import require_identifier
from pipelines.common.paths import config_path
from pipelines.flywheel.errors import FlywheelConfigError

CONFIG_FILE = "flywheel.yaml"
ENV_VARIABLE = "flywheel_env"
DEFAULT_ENV = "dev"


def _s3_url(url: str) -> str:
    if not url.startswith("s3://"):
        raise ValueError(f"{url[:60]!r} is not an s3:// location")
    return url


Identifier = Annotated[str, AfterValidator(require_identifier)]
S3Url = Annotated[str, AfterValidator(_s3_url)]


class TablePrefixes(TypedDict):
    """Name prefixes of the Glue catalog tables each pipeline creates."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    staged: str
    partitioned: str
    bucketed: str


class PreparePartTables(StrictModel):
    """Arguments of the ``prepare-part-tables`` Glue job."""

    max_concurrency: PositiveInt
    poll_interval_sec: PositiveInt


class GlueWait(StrictModel):
    """How the triggerer waits on a Glue run: a check every ``poll_seconds``, ``max_poll_attempts`` checks."""

    poll_seconds: PositiveInt
    max_poll_attempts: PositiveInt


class SnapshotWait(StrictModel):
    """How the snapshot sensors wait for a source's ``snapshot_dt=`` folder."""

    poke_seconds: PositiveInt
    timeout_seconds: PositiveInt


class SharedSettings(StrictModel):
    """The settings every environment shares (the top level of the file)."""

    aws_conn_id: str
    bucket_count: PositiveInt
    bucket_col: Identifier
    table_prefixes: TablePrefixes
    register_max_cols: PositiveInt
    prepare_part_tables: PreparePartTables
    msck_max_active: PositiveInt
    athena_poll_seconds: PositiveInt
    glue_wait: GlueWait
    snapshot_wait: SnapshotWait
    job_suffixes: dict[str, str] = Field(min_length=1)


class EnvironmentSettings(StrictModel):
    """What differs between environments: one entry of ``environments``."""

    job_prefix: str
    region: str
    database: Identifier
    athena_workgroup: str
    athena_results_s3: S3Url
    msck_results_s3: S3Url
    sources: dict[str, S3Url]
    targets: dict[str, S3Url]
    csv_files: dict[str, S3Url]


class FlywheelConfig(SharedSettings, EnvironmentSettings):
    """Everything a Flywheel task needs to know about one environment."""

    env: str

    def job_name(self, job: str) -> str:
        """Glue job name: ``<job_prefix>-<suffix>``, e.g. ``...-prod-register-staged-tables``."""
        return f"{self.job_prefix}-{_lookup(self.job_suffixes, 'job_suffixes', job)}"

    def source(self, name: str) -> str:
        return _lookup(self.sources, f"environments.{self.env}.sources", name)

    def target(self, name: str) -> str:
        return _lookup(self.targets, f"environments.{self.env}.targets", name)

    def csv_file(self, name: str) -> str:
        return _lookup(self.csv_files, f"environments.{self.env}.csv_files", name)


class FlywheelSettings(SharedSettings):
    """The whole of flywheel.yaml."""

    environments: dict[str, EnvironmentSettings] = Field(min_length=1)

    def environment(self, env: str) -> FlywheelConfig:
        """The shared settings and those of ``env``; an unknown environment is one clear error."""
        if env not in self.environments:
            raise FlywheelConfigError(
                f"unknown flywheel environment {env!r}; expected one of {sorted(self.environments)}")
        shared = self.model_dump(exclude={"environments"})
        return FlywheelConfig.model_validate({**shared, **self.environments[env].model_dump(), "env": env})


def _lookup(section: dict[str, str], section_name: str, name: str) -> str:
    try:
        return section[name]
    except KeyError:
        raise FlywheelConfigError(f"{CONFIG_FILE}: {section_name}.{name} is missing") from None


@cache
def _settings_of(path: Path) -> FlywheelSettings:
    try:
        return common.load_config(FlywheelSettings, path)
    except ConfigError as exc:  # the family's class, so an alert or import error says which file family
        raise FlywheelConfigError(str(exc)) from None


def load_settings(path: Path | None = None) -> FlywheelSettings:
    """The whole file (``include/config/flywheel.yaml`` unless ``path``); read once per path. Safe at DAG
    parse time: a local file, no database or network."""
    return _settings_of(path or config_path(CONFIG_FILE))


def load_environment(env: str, path: Path | None = None) -> FlywheelConfig:
    """The settings of ``env``; an unknown environment or a missing or invalid key is one clear error."""
    return load_settings(path).environment(env)


def current_env() -> str:
    """The environment selected by the ``flywheel_env`` Variable (``AIRFLOW_VAR_FLYWHEEL_ENV``); run time only."""
    from airflow.sdk import Variable

    return str(Variable.get(ENV_VARIABLE, default=DEFAULT_ENV)).strip() or DEFAULT_ENV


def current_config() -> FlywheelConfig:
    return load_environment(current_env())
