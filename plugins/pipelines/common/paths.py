"""Where the project's non-Python assets live, for the dev tree and the Airflow image alike."""

from __future__ import annotations

import os
from pathlib import Path

# plugins/pipelines/common/paths.py -> project root (also /opt/airflow in the image, where
# dags/, plugins/ and include/ are mounted side by side).
PROJECT_ROOT = Path(__file__).resolve().parents[3]
INCLUDE_DIR = Path(os.environ.get("PIPELINES_INCLUDE_DIR", PROJECT_ROOT / "include"))
SQL_DIR = INCLUDE_DIR / "sql"
CONFIG_DIR = INCLUDE_DIR / "config"
POOLS_FILE = CONFIG_DIR / "pools.json"


def sql_path(relative: str) -> Path:
    """Path of an SQL file under include/sql, e.g. ``sql_path("mssql/appxml/staging_ddl.sql")``."""
    path = SQL_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(f"SQL file not found: include/sql/{relative}")
    return path


def read_sql(relative: str) -> str:
    """Text of an SQL file under include/sql."""
    return sql_path(relative).read_text(encoding="utf-8")


def config_path(name: str) -> Path:
    """Path of a config file under include/config."""
    return CONFIG_DIR / name
