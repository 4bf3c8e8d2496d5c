"""include/config/appxml.yaml: table names and per-run parallelism, with one-line errors naming the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.appxml import cli, plan
from pipelines.appxml.config import AppxmlSettings, load_settings, max_parallel_partitions
from pipelines.common.cli import EXIT_FAILED
from pipelines.common.config import ConfigError
from pipelines.common.paths import INCLUDE_DIR_ENV

PROJECT_INCLUDE = Path(__file__).resolve().parents[3] / "include"


@pytest.fixture
def include_copy(tmp_path, monkeypatch) -> Path:
    """A copy of include/ that PIPELINES_INCLUDE_DIR points at; returns its appxml.yaml."""
    shutil.copytree(PROJECT_INCLUDE / "config", tmp_path / "config")
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(tmp_path))
    return tmp_path / "config" / "appxml.yaml"


def test_the_shipped_settings_are_the_documented_defaults():
    assert load_settings() == AppxmlSettings(source_table="dbo.app_xml", source_column="app_XML",
                                             staging_table="dbo.app_xml_staging", max_parallel_partitions=8)


def test_a_deployment_sets_tables_and_parallelism(include_copy):
    include_copy.write_text("source_table: src.docs\nsource_column: body\nstaging_table: stg.docs\n"
                            "max_parallel_partitions: 3\n")

    spec = plan.spec_for({"mod": 4, "rem": 1, "batch": 10, "limit": 0})
    args = cli.build_parser().parse_args(["--url", "sqlite://"])

    assert max_parallel_partitions() == 3
    assert (spec.source_table, spec.source_column, spec.staging_table) == ("src.docs", "body", "stg.docs")
    assert (args.source_table, args.source_column, args.staging_table) == ("src.docs", "body", "stg.docs")


@pytest.mark.parametrize(("content", "message"), [
    ("max_parallel_partitions: 0\n",
     "appxml.yaml: max_parallel_partitions: Input should be greater than or equal to 1"),
    ("staging_table: dbo.app xml\n", "appxml.yaml: staging_table: table name part 'app xml' is not an identifier"),
    ("source_table: a.b.c\n", "appxml.yaml: source_table: 'a.b.c' is not a table name (expected schema.table)"),
    ("source_column: app-XML\n", "appxml.yaml: source_column: column 'app-XML' is not an identifier"),
    ("staging_table: dbo.APP_XML\n", "appxml.yaml: source_table and staging_table are the same: dbo.app_xml"),
    ("max_parallel: 4\n", "appxml.yaml: max_parallel: Extra inputs are not permitted"),
])
def test_a_bad_setting_is_one_line_naming_the_file_and_field(include_copy, content, message):
    include_copy.write_text(content)

    with pytest.raises(ConfigError) as error:
        load_settings()

    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_the_cli_reports_a_bad_settings_file_in_one_line(include_copy, capsys):
    include_copy.write_text("max_parallel_partitions: many\n")

    assert cli.main(["--url", "sqlite://"]) == EXIT_FAILED
    assert capsys.readouterr().err.strip() == (
        "appxml staging failed: appxml.yaml: max_parallel_partitions: Input should be a valid integer, "
        "unable to parse string as an integer")
