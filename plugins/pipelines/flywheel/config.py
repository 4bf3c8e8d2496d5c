"""Per-environment settings of the Flywheel Glue pipelines, read from include/config/flywheel.yaml.

The environment is an Airflow Variable (``flywheel_env``, default ``dev``) read when a task runs, never
when a DAG file is parsed, so switching environments needs no redeploy and parsing touches no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pipelines.common.paths import config_path

CONFIG_FILE = "flywheel.yaml"
ENV_VARIABLE = "flywheel_env"
DEFAULT_ENV = "dev"


class FlywheelConfigError(ValueError):
    """The configuration file or the selected environment is unusable; the message is one line."""


@dataclass(frozen=True)
class FlywheelConfig:
    """Everything a Flywheel task needs to know about one environment."""

    env: str
    aws_conn_id: str
    job_prefix: str
    job_suffixes: Mapping[str, str]
    region: str
    database: str
    athena_workgroup: str
    athena_results_s3: str
    msck_results_s3: str
    sources: Mapping[str, str]
    targets: Mapping[str, str]
    csv_files: Mapping[str, str]
    bucket_count: int
    bucket_col: str
    table_prefixes: Mapping[str, str]
    register_max_cols: int
    prepare_max_concurrency: int
    prepare_poll_interval_sec: int
    msck_max_active: int
    glue_poll_seconds: int
    glue_max_poll_attempts: int
    snapshot_poke_seconds: int
    snapshot_timeout_seconds: int

    def job_name(self, job: str) -> str:
        """Glue job name: ``<job_prefix>-<suffix>``, e.g. ``...-prod-register-staged-tables``."""
        try:
            return f"{self.job_prefix}-{self.job_suffixes[job]}"
        except KeyError:
            raise FlywheelConfigError(f"{CONFIG_FILE}: no job suffix for {job!r}") from None

    def source(self, name: str) -> str:
        return _lookup(self.sources, "sources", name)

    def target(self, name: str) -> str:
        return _lookup(self.targets, "targets", name)

    def csv_file(self, name: str) -> str:
        return _lookup(self.csv_files, "csv_files", name)


def _lookup(section: Mapping[str, str], section_name: str, name: str) -> str:
    try:
        return section[name]
    except KeyError:
        raise FlywheelConfigError(f"{CONFIG_FILE}: {section_name}.{name} is missing") from None


@cache
def _raw_config(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise FlywheelConfigError(f"cannot read {path.name}: {type(exc).__name__}") from None
    if not isinstance(data, dict) or not isinstance(data.get("environments"), dict):
        raise FlywheelConfigError(f"{path.name}: expected a mapping with an 'environments' section")
    return data


def environments(path: Path | None = None) -> list[str]:
    """The environment names defined in the configuration file."""
    return sorted(_raw_config(path or config_path(CONFIG_FILE))["environments"])


def load_config(env: str, path: Path | None = None) -> FlywheelConfig:
    """The settings of ``env``; an unknown environment or a missing key is one clear error."""
    data = _raw_config(path or config_path(CONFIG_FILE))
    envs = data["environments"]
    if env not in envs:
        raise FlywheelConfigError(f"unknown flywheel environment {env!r}; expected one of {sorted(envs)}")
    scoped = envs[env]
    try:
        return FlywheelConfig(
            env=env,
            aws_conn_id=data["aws_conn_id"],
            job_prefix=scoped["job_prefix"],
            job_suffixes=dict(data["job_suffixes"]),
            region=scoped["region"],
            database=scoped["database"],
            athena_workgroup=scoped["athena_workgroup"],
            athena_results_s3=scoped["athena_results_s3"],
            msck_results_s3=scoped["msck_results_s3"],
            sources=dict(scoped["sources"]),
            targets=dict(scoped["targets"]),
            csv_files=dict(scoped["csv_files"]),
            bucket_count=int(data["bucket_count"]),
            bucket_col=data["bucket_col"],
            table_prefixes=dict(data["table_prefixes"]),
            register_max_cols=int(data["register_max_cols"]),
            prepare_max_concurrency=int(data["prepare_part_tables"]["max_concurrency"]),
            prepare_poll_interval_sec=int(data["prepare_part_tables"]["poll_interval_sec"]),
            msck_max_active=int(data["msck_max_active"]),
            glue_poll_seconds=int(data["glue_wait"]["poll_seconds"]),
            glue_max_poll_attempts=int(data["glue_wait"]["max_poll_attempts"]),
            snapshot_poke_seconds=int(data["snapshot_wait"]["poke_seconds"]),
            snapshot_timeout_seconds=int(data["snapshot_wait"]["timeout_seconds"]),
        )
    except KeyError as exc:
        raise FlywheelConfigError(f"{CONFIG_FILE}: key {exc.args[0]!r} missing for environment {env!r}") from None


def shared_setting(key: str, path: Path | None = None) -> Any:
    """An environment-independent setting (e.g. ``msck_max_active``); safe to read at DAG parse time:
    it is a local file, no database or network."""
    return _raw_config(path or config_path(CONFIG_FILE))[key]


def current_env() -> str:
    """The environment selected by the ``flywheel_env`` Variable (``AIRFLOW_VAR_FLYWHEEL_ENV``); run time only."""
    from airflow.sdk import Variable

    return str(Variable.get(ENV_VARIABLE, default=DEFAULT_ENV)).strip() or DEFAULT_ENV


def current_config() -> FlywheelConfig:
    return load_config(current_env())
