"""Settings of the mapping DAG: ``include/config/xml_mapping.yaml``.

Contracts are deployment configuration: bare names are read from ``contract_dir`` (default:
``include/config/xml_mapping/``, beside the settings file), absolute paths as they are. Nothing here is read at DAG
parse time; the tasks load the settings and contracts when they run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from pipelines.appxml.tables import STAGING_XML_COLUMN  # the staging table's shape: what the mapping reads
from pipelines.common.config import StrictModel, load_config
from pipelines.common.identifiers import require_identifier
from pipelines.common.paths import config_path
from pipelines.xml_mapping.contract import CONTRACT_DIR, Contract, load_contract
from pipelines.xml_mapping.errors import ContractError
from pipelines.xml_mapping.mapper import CompiledContract

SETTINGS_FILE = "xml_mapping.yaml"
#: The mapping reads what appxml staging wrote.
DEFAULT_SOURCE_TABLE = "dbo.app_xml_staging"
DEFAULT_SOURCE_COLUMN = STAGING_XML_COLUMN


class MappingSettings(StrictModel):
    conn_id: str = "mssql_appxml"
    source_table: str = DEFAULT_SOURCE_TABLE
    source_column: str = DEFAULT_SOURCE_COLUMN
    contracts: list[str] = Field(min_length=1)
    contract_dir: str | None = None

    @field_validator("source_table")
    @classmethod
    def _table(cls, value: str) -> str:
        for part in value.split("."):
            require_identifier(part, "source_table part")
        return value

    @field_validator("source_column")
    @classmethod
    def _column(cls, value: str) -> str:
        return require_identifier(value, "source_column")

    def contract_paths(self) -> list[Path]:
        base = Path(self.contract_dir) if self.contract_dir else config_path(CONTRACT_DIR)
        return [Path(name) if Path(name).is_absolute() else base / name for name in self.contracts]


def load_settings(name: str = SETTINGS_FILE) -> MappingSettings:
    return load_config(MappingSettings, name)


def load_contracts(paths: list[Path]) -> list[CompiledContract]:
    """Each contract loaded, validated and compiled; two contracts for one product is an error."""
    compiled: list[CompiledContract] = []
    seen: dict[str, Contract] = {}
    for path in paths:
        contract = load_contract(path)
        other = seen.get(contract.application_tag)
        if other is not None:
            raise ContractError(f"{contract.name}: product {contract.application_tag} is already mapped by "
                                f"{other.name}")
        seen[contract.application_tag] = contract
        compiled.append(CompiledContract(contract))
    return compiled
