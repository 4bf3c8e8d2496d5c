"""A production-wide OpenDental source: 446 tables (the origin ETL's table list), for ``make bench-scheduler``
and the wide-night end-to-end test.

The night is made of the shared corpus's real OpenDental DDL (the project's own tables in ``tables`` when the
corpus is absent) and generated tables up to the wanted count, in three shapes, one per load strategy the
discovery rules pick: a change timestamp (``incremental``), an auto-increment key alone (``append_only``),
no primary key (``full``). Row counts are small: the night measures Airflow, not the copy.

The DAG needs nothing of its own for it: it copies every table the source has that
``include/config/opendental.yaml`` does not exclude, and ``write_include`` writes a copy of
``include/`` (``PIPELINES_INCLUDE_DIR``) whose YAML has any section changed for the run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from devtools.opendental import generator, tables
from devtools.opendental.tables import AMOUNT, DATE, DATETIME, EDIT_STAMP, NOTE, REF, SERIAL_KEY, TEXT, Table
from pipelines.common.paths import DEFAULT_INCLUDE_DIR
from pipelines.opendental.config import CONFIG_FILE, Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DDL = PROJECT_ROOT.parent / "shared" / "corpus" / "opendental" / "ddl"
PRODUCTION_TABLE_COUNT = 446
# OpenDental-like stems and suffixes for the generated tables' names (``*log`` ones are planned last, as in
# production); a name the shared DDL already has is skipped.
STEMS = ("alert", "allergy", "apptfield", "asapcomm", "autonote", "carrier", "chartview", "clearinghouse",
         "computer", "confirm", "contact", "covcat", "covspan", "custref", "deposit", "dictcustom", "discount",
         "displayfield", "eform", "ehrlab", "email", "erx", "etrans", "formpat", "grouppermission", "hl7msg",
         "insfiling", "journal", "letter", "login", "medlab", "mobileapp", "orthochart", "payplan", "perio",
         "phone", "popup", "printer", "question", "reactivation", "regkey", "reqneeded", "rxalert", "scheduleop",
         "sigbut", "smsphone", "supply", "toothgrid", "transaction", "tsitrans", "userweb", "vaccine",
         "webschedrecall", "wikipage", "xwebresponse", "zipcode")
SUFFIXES = ("", "def", "attach", "item", "link", "log", "note", "entry")
SHAPES = ("incremental", "append_only", "full")


@dataclass(frozen=True)
class WideTable:
    name: str
    ddl: str
    rows: int


def shared_statements() -> list[str]:
    """The shared corpus's OpenDental DDL, one CREATE per table; the project's own tables without the corpus."""
    files = sorted(SHARED_DDL.glob("*.sql")) if SHARED_DDL.is_dir() else []
    if files:
        return generator.file_statements(files)
    return [tables.create_table(name) for name in sorted(tables.TABLES)]


def generated_shape(name: str, shape: str) -> Table:
    """A small OpenDental-like table whose columns make the discovery rules pick ``shape`` as its strategy."""
    key = f"{name.capitalize()}Num"
    if shape == "incremental":
        return Table(columns=[(key, SERIAL_KEY), ("PatNum", REF), ("Amount", AMOUNT), ("Note", NOTE),
                              ("DateEntry", DATE), ("DateTStamp", EDIT_STAMP)], key=key, indexes=("DateTStamp",))
    if shape == "append_only":
        return Table(columns=[(key, SERIAL_KEY), ("UserNum", REF), ("LogDateTime", DATETIME), ("LogText", TEXT)],
                     key=key)
    # No primary key: nothing to upsert on, so the table is copied whole (a shadow table swapped in).
    return Table(columns=[("ItemName", "varchar(255) NOT NULL DEFAULT ''"), ("ItemValue", NOTE),
                          ("Comments", TEXT)], unique=("ItemName",))


def generated_names(taken: Iterable[str]) -> Iterable[str]:
    """Endless distinct OpenDental-like names, none of them in ``taken``."""
    taken = {name.lower() for name in taken}
    round_ = 0
    while True:
        for suffix in SUFFIXES:
            for stem in STEMS:
                name = f"{stem}{suffix}{round_ or ''}"
                if name not in taken:
                    yield name
        round_ += 1


def wide_tables(count: int = PRODUCTION_TABLE_COUNT, rows: int = 20, settings: Settings | None = None,
                shared: Iterable[str] | None = None, most_shared: int | None = None) -> list[WideTable]:
    """``count`` tables the night plans: the shared DDL first (as many as fit, at most ``most_shared``; its
    excluded tables are created too, but do not count), then generated ones cycling through the three
    strategies' shapes. Rows vary from ``rows`` to 3x ``rows`` so the tables are not all alike."""
    settings = settings or load_settings()
    statements = shared_statements() if shared is None else list(shared)
    wide, planned = [], 0
    shared_limit = count if most_shared is None else min(count, most_shared)
    for ddl in statements:
        name = _created_name(ddl)
        if name and planned < shared_limit:
            wide.append(WideTable(name, ddl, rows))
            planned += not settings.override(name).exclude
    names = generated_names(name for ddl in statements if (name := _created_name(ddl)))
    for index in range(max(0, count - planned)):
        name = next(names)
        ddl = tables.render_table(name, generated_shape(name, SHAPES[index % len(SHAPES)]))
        wide.append(WideTable(name, ddl, rows * (1 + index % 3)))
    return wide


def _created_name(statement: str) -> str | None:
    created = generator.table_name(statement)
    return created.lower() if created else None


def seed_source(conn: Any, wide: Iterable[WideTable], seed: int = 7) -> dict[str, int]:
    """Create and fill every table in the connection's database; returns each table's row count."""
    counts = {}
    for table in wide:
        generator.load_ddl(conn, [table.ddl])
        counts[table.name] = generator.fill_table(conn, table.name, table.rows, seed=seed)
    return counts


def write_include(directory: Path, **sections: Mapping[str, Any]) -> Path:
    """A copy of the project's include/ under ``directory`` whose opendental.yaml has the given
    sections updated (e.g. ``stages={"retries": 1}``); point ``PIPELINES_INCLUDE_DIR`` at it."""
    include = directory / "include"
    shutil.copytree(DEFAULT_INCLUDE_DIR, include)
    config_file = include / "config" / CONFIG_FILE
    data = yaml.safe_load(config_file.read_text())
    for section, values in sections.items():
        data[section] = {**data.get(section, {}), **values}
    config_file.write_text(yaml.safe_dump(data))
    return include
