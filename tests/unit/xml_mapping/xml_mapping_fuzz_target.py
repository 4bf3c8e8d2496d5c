"""Run in a child process by ``test_xml_mapping_fuzz``: one hostile document through the mapping path."""

from __future__ import annotations

from functools import cache

from pipelines.common.paths import config_path
from pipelines.xml_mapping.config import load_contracts
from pipelines.xml_mapping.documents import Failure, Router


@cache
def _router() -> Router:
    return Router(load_contracts([config_path(f"xml_mapping/example_{p}.json") for p in ("cc", "rl")]))


def map_outcome(data: bytes | str) -> str:
    """A failure's stage, or ``mapped``; anything raised is a finding."""
    result = _router().map(1, data)
    return result.stage if isinstance(result, Failure) else "mapped"
