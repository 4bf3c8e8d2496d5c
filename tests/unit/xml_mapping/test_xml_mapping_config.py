"""Settings of the mapping DAG and where its contracts are read from."""

from __future__ import annotations

import shutil

import pytest

from pipelines.common.config import ConfigError
from pipelines.common.paths import INCLUDE_DIR_ENV, config_path
from pipelines.xml_mapping.config import load_contracts, load_settings
from pipelines.xml_mapping.contract import ContractError


def test_the_shipped_settings_name_the_example_contracts():
    settings = load_settings()
    assert settings.conn_id == "mssql_appxml"
    assert [path.name for path in settings.contract_paths()] == ["example_cc.json", "example_rl.json"]
    assert [c.app_tag for c in load_contracts(settings.contract_paths())] == ["application", "IL_application"]


def test_contract_dir_points_elsewhere_and_the_include_dir_moves(tmp_path, monkeypatch):
    include = tmp_path / "include"
    (include / "config" / "xml_mapping").mkdir(parents=True)
    deployment = tmp_path / "contracts"
    deployment.mkdir()
    shutil.copy(config_path("xml_mapping/example_cc.json"), deployment / "cc.json")
    (include / "config" / "xml_mapping.yaml").write_text(
        f"contracts: [cc.json]\ncontract_dir: {deployment}\nsource_table: stage.apps\n")
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(include))

    settings = load_settings()

    assert settings.source_table == "stage.apps"
    assert settings.contract_paths() == [deployment / "cc.json"]


@pytest.mark.parametrize(("text", "message"), [
    ("contracts: []\n", "contracts: List should have at least 1 item"),
    ("contracts: [a.json]\nsource_table: 'dbo.x y'\n", "source_table part 'x y' is not an identifier"),
    ("contracts: [a.json]\nworkers: 3\n", "workers: Extra inputs are not permitted"),
])
def test_bad_settings_are_one_line_naming_the_file_and_field(tmp_path, monkeypatch, text, message):
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "config" / "xml_mapping.yaml").write_text(text)
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(tmp_path))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value).startswith("xml_mapping.yaml: ")
    assert message in str(info.value)


def test_two_contracts_for_one_product_are_refused():
    path = config_path("xml_mapping/example_cc.json")
    with pytest.raises(ContractError, match=r"product application is already mapped by example_cc\.json"):
        load_contracts([path, path])
