"""Where the project's non-Python assets live, for the dev tree and the Airflow image alike.

``PIPELINES_INCLUDE_DIR`` is the one setting that points the whole ``include/`` (SQL and config) elsewhere:
a deployment with its own configuration, or a test with a modified copy. It is read on every call, so a
process can change it without re-importing anything.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves ``include/``.
INCLUDE_DIR_ENV = "PIPELINES_INCLUDE_DIR"
# plugins/pipelines/common/paths.py -> project root (also /opt/airflow in the image, where
# dags/, plugins/ and include/ are mounted side by side).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_INCLUDE_DIR = PROJECT_ROOT / "include"


def include_dir() -> Path:
    return Path(os.environ.get(INCLUDE_DIR_ENV) or DEFAULT_INCLUDE_DIR)


def sql_dir() -> Path:
    return include_dir() / "sql"


def config_dir() -> Path:
    return include_dir() / "config"


def pools_file() -> Path:
    return config_dir() / "pools.json"


def sql_path(relative: str) -> Path:
    """Path of an SQL file under include/sql, e.g. ``sql_path("mssql/appxml/staging_ddl.sql")``."""
    path = sql_dir() / relative
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: include/sql/{relative}")
    return path


def read_sql(relative: str) -> str:
    """Text of an SQL file under include/sql."""
    return sql_path(relative).read_text(encoding="utf-8")


def config_path(name: str) -> Path:
    """Path of a config file under include/config."""
    return config_dir() / name
