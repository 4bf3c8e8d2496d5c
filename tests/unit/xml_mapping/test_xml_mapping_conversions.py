"""What a conversion changes is counted per table, column and kind, never silent: a value that does not convert
(a word in a number column, an impossible or pre-1753 date, an integer out of range), a code the enum or bit map
does not know, a string cut to its column, a number rounded to its scale, a date that loses its time. Values
that reach the column as the document holds them are not counted."""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest

from pipelines.common.paths import config_path
from pipelines.xml_mapping.contract import parse_contract
from pipelines.xml_mapping.documents import Failure, Router
from pipelines.xml_mapping.mapper import CompiledContract
from pipelines.xml_mapping.metrics import MappingMetrics, conversions_by_column
from pipelines.xml_mapping.tasks import summarize

APP = "/Provenir/Request/CustData/application"
COLUMNS = {  # attribute -> (column, data_type, data_length, mapping_type)
    "t_small": ("small_value", "smallint", None, []),
    "t_tiny": ("tiny_value", "tinyint", None, []),
    "t_int": ("int_value", "int", None, []),
    "t_money": ("money_value", "decimal", 2, []),
    "t_day": ("day_value", "date", None, []),
    "t_moment": ("moment_value", "datetime", None, []),
    "t_code": ("code_value", "string", 5, []),
    "t_flag": ("flag_value", "bit", None, ["char_to_bit"]),
    "t_kind": ("kind_enum", "smallint", None, ["enum"]),
}


@pytest.fixture(scope="module")
def router() -> Router:
    doc = copy.deepcopy(json.loads(config_path("xml_mapping/example_cc.json").read_text()))
    doc["mappings"] += [
        {"xml_path": APP, "xml_attribute": attribute, "target_table": "application", "target_column": column,
         "data_type": data_type, "data_length": length, "nullable": True, "required": False,
         **({"mapping_type": kinds} if kinds else {})}
        for attribute, (column, data_type, length, kinds) in COLUMNS.items()]
    doc["enum_mappings"]["kind_enum"] = {"GOLD": 1, "SILVER": 2}
    return Router([CompiledContract(parse_contract(doc, "example_cc.json"))])


def mapped(router: Router, attributes: dict[str, str]):
    body = " ".join(f'{name}="{value}"' for name, value in attributes.items())
    xml = (f'<Provenir><Request ID="7"><CustData><application app_receive_date="01/02/2020" {body}/>'
           "</CustData></Request></Provenir>").encode()
    result = router.map(7, xml)
    assert not isinstance(result, Failure), result.reason
    return result


def counted(result) -> dict[tuple[str, str], int]:
    return {(column, kind): count for (table, column, kind), count in result.conversions.items()
            if table == "application"}


def test_values_that_reach_their_column_unchanged_are_not_counted(router):
    result = mapped(router, {"t_small": "-32768", "t_tiny": "255", "t_int": "2147483647", "t_money": "$1,500.75",
                             "t_day": "2020-02-29", "t_moment": "1753-01-01 00:00:00", "t_code": "ABCDE",
                             "t_flag": "Y", "t_kind": "gold"})

    row = result.rows["application"][0]
    assert (row["small_value"], row["tiny_value"], row["int_value"]) == (-32768, 255, 2147483647)
    assert (row["code_value"], row["flag_value"], row["kind_enum"]) == ("ABCDE", 1, 1)
    assert counted(result) == {}


@pytest.mark.parametrize(("attributes", "expected"), [
    ({"t_small": "32768"}, {("small_value", "unconvertible"): 1}),
    ({"t_tiny": "-1"}, {("tiny_value", "unconvertible"): 1}),
    ({"t_int": "twelve"}, {("int_value", "unconvertible"): 1}),
    ({"t_int": "12.5"}, {("int_value", "rounded"): 1}),
    ({"t_money": "1.005"}, {("money_value", "rounded"): 1}),
    ({"t_money": "1.50"}, {}),
    ({"t_day": "2020-02-30"}, {("day_value", "unconvertible"): 1}),
    ({"t_day": "1700-01-01"}, {("day_value", "unconvertible"): 1}),
    ({"t_day": "2020-02-28 13:45:00"}, {("day_value", "time_dropped"): 1}),
    ({"t_day": "2020-02-28 00:00:00"}, {}),
    ({"t_moment": "1752-12-31 23:59:59"}, {("moment_value", "unconvertible"): 1}),
    ({"t_code": "ABCDEF"}, {("code_value", "cut"): 1}),
    ({"t_code": "ABCD  "}, {}),
    ({"t_code": "AB   CD"}, {("code_value", "cut"): 1}),
    ({"t_flag": "maybe"}, {("flag_value", "unmatched"): 1}),
    ({"t_flag": " "}, {}),
    ({"t_kind": "BRONZE"}, {("kind_enum", "unmatched"): 1}),
])
def test_each_change_is_counted_by_column_and_kind(router, attributes, expected):
    assert counted(mapped(router, attributes)) == expected


def test_counts_travel_from_the_partition_to_the_run_summary(router):
    first = mapped(router, {"t_small": "99999", "t_code": "TOO LONG"})
    second = mapped(router, {"t_small": "-99999", "t_day": "2020-01-01 08:00"})
    partitions = []
    for rem, apps in enumerate(([first], [second])):
        metrics = MappingMetrics(mod=2, rem=rem, batch=10)
        metrics.record(apps, [], 7)
        partitions.append(metrics.to_dict())

    assert partitions[0]["conversions"]["application.small_value"] == {"unconvertible": 1}
    summary = summarize(partitions)
    assert {key: count for key, count in summary["conversions"].items() if key.startswith("application.")} == {
        "application.code_value cut": 1, "application.day_value time_dropped": 1,
        "application.small_value unconvertible": 2}


def test_counts_by_column_are_sorted_and_grouped():
    counts = Counter({("b", "y", "cut"): 2, ("a", "x", "rounded"): 1, ("a", "x", "cut"): 3})
    assert list(conversions_by_column(counts).items()) == [("a.x", {"cut": 3, "rounded": 1}), ("b.y", {"cut": 2})]



def test_a_score_that_does_not_convert_or_is_rounded_is_counted(router):
    xml = (b'<Provenir><Request ID="7"><CustData><application app_receive_date="01/02/2020">'
           b'<app_product fico_score="seven hundred" vantage_score="700.5"/></application></CustData></Request>'
           b"</Provenir>")
    result = router.map(7, xml)

    assert not isinstance(result, Failure), result.reason
    assert result.rows["scores"] == [{"app_id": 7, "score_identifier": "V4", "score": 701}]
    assert {key: count for key, count in result.conversions.items() if key[0] == "scores"} == {
        ("scores", "score", "unconvertible"): 1, ("scores", "score", "rounded"): 1}
