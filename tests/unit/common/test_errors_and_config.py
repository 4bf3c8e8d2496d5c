"""The shared error policy and config loader: one line per problem, no retries for permanent errors."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException
from pydantic import Field

from pipelines.common.config import ConfigError, StrictModel, load_config
from pipelines.common.errors import (
    MissingConnectionError,
    PermanentError,
    fail_without_retry,
    is_missing_connection,
    require_connection,
)
from pipelines.common.identifiers import require_identifier
from pipelines.common.paths import INCLUDE_DIR_ENV, config_path, sql_dir


class Inner(StrictModel):
    slots: int = Field(ge=1)


class Settings(StrictModel):
    name: str
    inner: Inner


def test_permanent_error_fails_the_task_without_retry_and_keeps_the_message() -> None:
    @fail_without_retry
    def body(value: int) -> int:
        if value < 0:
            raise PermanentError(f"value must be >= 0, got {value}")
        return value * 2

    assert body(2) == 4
    with pytest.raises(AirflowFailException, match=r"^value must be >= 0, got -1$") as caught:
        body(-1)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_other_errors_keep_their_retries() -> None:
    @fail_without_retry
    def body() -> None:
        raise ConnectionResetError("server went away")

    with pytest.raises(ConnectionResetError):
        body()


def test_missing_connection_is_recognised_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    with pytest.raises(MissingConnectionError, match=r"^connection 'no_such_conn' is not defined$") as caught:
        require_connection("no_such_conn")
    assert is_missing_connection(caught.value)
    assert isinstance(caught.value, PermanentError)
    assert not is_missing_connection(ValueError("bad value"))
    monkeypatch.setenv("AIRFLOW_CONN_SOME_CONN", '{"conn_type": "postgres", "host": "127.0.0.1"}')
    require_connection("some_conn")


def test_config_errors_are_one_line_naming_file_and_field(tmp_path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("name: x\ninner:\n  slots: 0\n  slotz: 2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(Settings, path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("settings.yaml: ")
    assert "inner.slots:" in message
    assert "inner.slotz: Extra inputs are not permitted" in message
    assert isinstance(caught.value, PermanentError)


@pytest.mark.parametrize(("text", "expected"), [
    ("name: [unclosed\n", r"^settings.yaml: not valid YAML at line \d+$"),
    (None, r"^settings.yaml: cannot read the file"),
])
def test_unreadable_config_is_one_line(tmp_path, text: str | None, expected: str) -> None:
    path = tmp_path / "settings.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        load_config(Settings, path)


def test_json_config_and_values(tmp_path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"name": "a", "inner": {"slots": 3}}')
    assert load_config(Settings, path).inner.slots == 3
    path.write_text('{"name": "a",\n "inner": }')
    with pytest.raises(ConfigError, match=r"^settings.json: not valid JSON at line 2"):
        load_config(Settings, path)


def test_include_dir_moves_sql_and_config_together(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.yaml").write_text("name: moved\ninner: {slots: 1}\n")
    monkeypatch.setenv(INCLUDE_DIR_ENV, str(tmp_path))
    assert config_path("x.yaml") == tmp_path / "config" / "x.yaml"
    assert sql_dir() == tmp_path / "sql"
    assert load_config(Settings, "settings.yaml").name == "moved"


def test_identifier_rule() -> None:
    assert require_identifier("app_xml_staging") == "app_xml_staging"
    for bad in ("1abc", "a b", 'a"b', "a;drop", ""):
        with pytest.raises(ValueError, match="is not an identifier"):
            require_identifier(bad, "table")
