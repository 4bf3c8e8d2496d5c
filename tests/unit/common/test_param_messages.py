"""A conf the trigger refuses says so in its first line: the param, the value and what is expected, with no
regex for dates. Airflow 3.3 has no custom messages for Params: the API server and the trigger form show
``Invalid input for param <name>: <jsonschema's one-line message>`` and then jsonschema's dump of the schema,
so the schemas are chosen for a first line that says it all."""

from __future__ import annotations

import pytest
from airflow.sdk import Param
from airflow.sdk.exceptions import ParamValidationError
from airflow.serialization.definitions.param import SerializedParam, SerializedParamsDict

from pipelines.common.params import bool_param, date_param, identifier_list_param, int_list_param, int_param

SNAPSHOT = "Snapshot"


def first_line_of_refusal(name: str, param: Param, value: object) -> str:
    """What ``POST /api/v2/dags/{id}/dagRuns`` answers (HTTP 400) for ``{name: value}``, first line: the
    server validates the conf against the serialized DAG's params like this."""
    served = SerializedParamsDict({name: SerializedParam(default=param.value, description=param.description,
                                                        **param.schema)})
    with pytest.raises(ParamValidationError) as refused:
        served.deep_merge({name: value}).validate()
    return str(refused.value).splitlines()[0]


@pytest.mark.parametrize(("param", "value", "expected"), [
    (date_param("2026-01-01", title=SNAPSHOT, description="d"), "2026-3-1",
     "Invalid input for param p: '2026-3-1' is not a 'date'"),
    (date_param("2026-01-01", title=SNAPSHOT, description="d"), "2026-02-30",
     "Invalid input for param p: '2026-02-30' is not a 'date'"),
    (date_param("_NONE_", title=SNAPSHOT, description="d", sentinel="_NONE_"), "2026-02-30",
     "Invalid input for param p: '2026-02-30' is not a 'date'"),
    (date_param("_NONE_", title=SNAPSHOT, description="d", sentinel="_NONE_"), "latest",
     "Invalid input for param p: 'latest' is not a 'date'"),
    (int_param(4, title="Workers", description="d", minimum=1, maximum=64), 65,
     "Invalid input for param p: 65 is greater than the maximum of 64"),
    (int_list_param(title="Remainders", description="d", maximum=7), [9],
     "Invalid input for param p: 9 is greater than the maximum of 7"),
    (bool_param(False, title="Force", description="d"), "yes",
     "Invalid input for param p: 'yes' is not of type 'boolean'"),
])
def test_a_refused_value_is_named_with_what_is_expected_in_one_line(param, value, expected) -> None:
    assert first_line_of_refusal("p", param, value) == expected


def test_a_refused_identifier_names_the_value_and_the_allowed_characters() -> None:
    line = first_line_of_refusal("tables", identifier_list_param(title="Tables", description="d"), ['pat"ient'])
    assert line.startswith("Invalid input for param tables: 'pat\"ient' does not match ")


def test_the_date_sentinel_and_calendar_dates_pass_on_the_server() -> None:
    snapshot = date_param("_NONE_", title=SNAPSHOT, description="d", sentinel="_NONE_")
    for value in ("_NONE_", "2024-02-29"):
        served = SerializedParamsDict({"p": SerializedParam(default=value, **snapshot.schema)})
        assert served.validate() == {"p": value}
