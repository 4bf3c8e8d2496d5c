"""Contract validation (one line naming the mapping) and hostile documents (a failed row, never a crash),
with the project's own example contracts."""

from __future__ import annotations

import copy
import json
import random
from datetime import date, datetime
from decimal import Decimal

import pytest

from devtools.xml_mapping.generator import staged_document
from pipelines.common.paths import config_path
from pipelines.xml_mapping import expressions
from pipelines.xml_mapping.contract import ContractError, load_contract, parse_contract
from pipelines.xml_mapping.documents import MAPPING, PARSING, VALIDATION, Failure, Router
from pipelines.xml_mapping.mapper import CompiledContract

A = "/Provenir/Request/CustData/application"


@pytest.fixture(scope="module")
def example() -> dict:
    return json.loads(config_path("xml_mapping/example_cc.json").read_text())


@pytest.fixture(scope="module")
def router() -> Router:
    return Router([CompiledContract(load_contract(name)) for name in ("example_cc.json", "example_rl.json")])


def broken(example: dict, index: int, **changes) -> dict:
    doc = copy.deepcopy(example)
    doc["mappings"][index].update(changes)
    return doc


@pytest.mark.parametrize(("changes", "message"), [
    ({"mapping_type": ["enumm"]}, "mapping 2 (application.app_source_enum): unknown mapping type 'enumm'"),
    ({"mapping_type": ["enum"], "enum_name": "nope"}, "enum map 'nope' does not exist"),
    ({"target_table": "app_elsewhere"}, "table 'app_elsewhere' is not in table_insertion_order"),
    ({"mapping_type": ["calculated_field"], "expression": "CASE WHEN a = THEN 1 END"}, "expression does not parse"),
    ({"mapping_type": ["calculated_field"]}, "calculated_field without an expression"),
    ({"data_type": "money"}, "unknown data_type 'money'"),
    ({"mapping_type": ["add_score"]}, "add_score needs an argument"),
    ({"mapping_type": ["add_history(x)"]}, "add_history takes no argument"),
    ({"mapping_type": ["add_score(a)", "add_history"]}, "more than one row-creating mapping type"),
    ({"mapping_type": ["add_collateral(1)"], "target_column": ""}, "add_collateral needs a target_column"),
    ({"target_column": "bad-name"}, "must be identifiers"),
    ({"data_length": "ten"}, "data_length must be an integer"),
    ({"mapping_type": ["last_valid_pr_contact", "authu_contact"]}, "more than one element scope"),
])
def test_a_bad_mapping_is_one_line_naming_the_file_and_the_mapping(example, changes, message):
    with pytest.raises(ContractError) as info:
        parse_contract(broken(example, 2, **changes), "example_cc.json")
    text = str(info.value)
    assert text.startswith("example_cc.json: mapping 2 (")
    assert message in text
    assert "\n" not in text


def test_every_expression_is_parsed_once_from_loading_the_contract_to_mapping(example, monkeypatch):
    parsed = []
    original = expressions._Parser.parse

    def counting(parser):
        parsed.append(parser)
        return original(parser)
    monkeypatch.setattr(expressions._Parser, "parse", counting)
    compiled = CompiledContract(parse_contract(copy.deepcopy(example), "example_cc.json"))
    assert not isinstance(Router([compiled]).map(7, document("")), Failure)
    calculated = [m for m in example["mappings"] if "calculated_field" in (m.get("mapping_type") or [])]
    assert calculated
    assert len(parsed) == len(calculated)


def test_a_contract_file_that_is_not_json_or_misses_keys_is_one_line(tmp_path, example):
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    with pytest.raises(ContractError, match=r"^bad\.json: not valid JSON at line 1"):
        load_contract(bad)
    incomplete = {key: value for key, value in example.items() if key != "table_insertion_order"}
    with pytest.raises(ContractError, match="table_insertion_order: missing"):
        parse_contract(incomplete, "x.json")
    with pytest.raises(ContractError, match="cannot read the file"):
        load_contract(tmp_path / "absent.json")


def test_the_example_contract_uses_every_mapping_type(example):
    used = {kind.split("(")[0] for m in example["mappings"] for kind in m.get("mapping_type") or []}
    assert used == {"identity_insert", "enum", "char_to_bit", "boolean_to_bit", "calculated_field",
                    "last_valid_pr_contact", "last_valid_sec_contact", "authu_contact", "curr_address_only",
                    "numbers_only", "extract_numeric", "extract_date", "add_collateral", "warranty_field",
                    "policy_exceptions", "add_history", "add_report_lookup", "add_score", "add_indicator"}


def document(body: str, app_id: int = 7, product_tag: str = "application") -> bytes:
    return (f'<Provenir><Request ID="{app_id}"><CustData><{product_tag} app_receive_date="01/02/2020">{body}'
            f"</{product_tag}></CustData></Request></Provenir>").encode()


def test_a_generated_document_maps_every_table_kind(router):
    result = router.map(1001, staged_document(1001, random.Random(5), product="cc"))
    assert not isinstance(result, Failure), result.reason
    rows = result.rows
    assert rows["application"][0]["app_id"] == 1001
    assert rows["applicant"][0]["con_id"] == 10010
    assert rows["collateral_item"] == [{"make": "MAGIC TRAILER", "wholesale_value": Decimal("1250.50"),
                                       "collateral_type_enum": 420, "app_id": 1001, "sort_order": 1}]
    assert rows["warranty"] == [{"merrick_lienholder_flag": 1, "company_name": "GAP CO",
                                       "amount": Decimal("499.00"), "app_id": 1001, "warranty_type_enum": 623}]
    assert rows["policy_exception"] == [{"app_id": 1001, "policy_exception_type_enum": 630,
                                              "reason_code": "cap", "notes": "one note for all"}]
    pricing = rows["card_terms"][0]
    assert (pricing["late_payment_fee"], pricing["annual_fee"]) == (25, 1000)  # digits of $25; 1,000
    assert pricing["statement_date"] == date(2025, 3, 15)
    address = next(row for row in rows["applicant_address"] if row["address_type_enum"] == 320)
    assert address["zip"].startswith("0")  # digits of a ZIP keep their leading zero
    assert sorted(row["address_type_enum"] for row in rows["applicant_address"]
                  if row["con_id"] == 10010) == [320, 321]


def test_rl_documents_go_to_the_rl_contract(router):
    result = router.map(2002, staged_document(2002, random.Random(1), product="rl"))
    assert not isinstance(result, Failure)
    assert set(result.rows) >= {"application", "applicant", "loan_terms", "scores"}
    assert result.rows["loan_terms"][0]["loan_amount"] > 1000


@pytest.mark.parametrize(("raw", "stage", "words"), [
    (b'<?xml version="1.0"?><!DOCTYPE Provenir [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
     b'<Provenir><Request ID="7"><CustData><application first="&b;"/></CustData></Request></Provenir>',
     VALIDATION, "DOCTYPE"),
    (b'<!DOCTYPE Provenir SYSTEM "http://127.0.0.1:9/evil.dtd"><Provenir/>', VALIDATION, "DOCTYPE"),
    # An external entity inside an attribute: libxml2 refuses the document itself, still for its DTD.
    (b'<?xml version="1.0"?>\n<!-- x --><!DOCTYPE Provenir [<!ENTITY ext SYSTEM "file:///etc/hostname">]>'
     b'<Provenir><Request ID="7" note="&ext;"/></Provenir>', VALIDATION, "DOCTYPE"),
    ('<!DOCTYPE Provenir [<!ENTITY ext SYSTEM "file:///etc/hostname">]><Provenir a="&ext;"/>', VALIDATION,
     "DOCTYPE"),
    (document('<contact con_id="1" ac_role_tp_c="PR" first_name="A"/>')[:60], PARSING, "not well-formed"),
    (b"", VALIDATION, "empty"),
    (None, VALIDATION, "empty"),
    (b"<Other/>", VALIDATION, "no /Provenir/Request"),
    (b'<Provenir><Request ID="7"/></Provenir>', VALIDATION, "no /Provenir/Request/CustData"),
    (document("", product_tag="mortgage_application"), VALIDATION,
     "no contract for CustData/mortgage_application"),
    (document("", app_id=8), VALIDATION, "Request/@ID 8 does not match app_id 7"),
    (document('<contact con_id="x1" ac_role_tp_c="PR" first_name="A"/>'), MAPPING, "con_id is not an integer"),
])
def test_hostile_documents_are_failures_naming_the_stage(router, raw, stage, words):
    result = router.map(7, raw)
    assert isinstance(result, Failure)
    assert result.stage == stage
    assert words in result.message
    assert result.reason.startswith(f"{stage}: ")


def test_values_that_do_not_convert_are_null_or_the_not_null_default(router):
    body = ('<app_product decision_tp_c="MAYBE" decision_date="2025-02-30 10:00:00" fico_score="-1,5x"'
            ' vantage_score="+712.5"/>'
            '<contact con_id="5" ac_role_tp_c="PR" first_name="" last_name="' + "L" * 80 + '" ssn="" '
            'birth_date="13/45/1999"/>'
            '<rmts_info late_payment_fee="" apr="-1,234.565" annual_fee="1e400" statement_date="yesterday"/>')
    result = router.map(7, document(body))
    assert not isinstance(result, Failure), result.reason
    base = result.rows["application"][0]
    assert base["decision_enum"] is None  # a code missing from the enum map, no "" default
    assert base["decision_date"] is None  # an impossible date
    assert base["campaign_num"] == "BLANK"  # empty NOT NULL column: the contract default
    assert result.rows["scores"] == [{"app_id": 7, "score_identifier": "V4", "score": 713}]  # half-up
    contact = result.rows["applicant"][0]
    assert contact["first_name"] == "UNKNOWN"
    assert contact["last_name"] == "L" * 50  # cut to data_length
    assert contact["ssn"] == "000000000"
    assert contact["birth_date"] == date(1900, 1, 1)  # NOT NULL date that does not convert
    pricing = result.rows["card_terms"][0]
    assert pricing["purchase_apr"] == Decimal("-1234.57")  # sign and separators, rounded half-up
    assert pricing["annual_fee"] is None and pricing["statement_date"] is None  # noqa: PT018
    assert pricing["late_payment_fee"] is None


def test_a_missing_product_or_contact_element_still_maps_the_application(router):
    result = router.map(7, document(""))
    assert not isinstance(result, Failure)
    assert result.rows["application"][0]["receive_date"] == datetime(2020, 1, 2)
    assert "applicant" not in result.rows
    assert "collateral_item" not in result.rows


def test_contacts_are_deduplicated_by_con_id_with_role_priority(router):
    body = ('<contact con_id="5" ac_role_tp_c="AUTHU" first_name="AUTH"/>'
            '<contact con_id="5" ac_role_tp_c="PR" first_name="FIRST"/>'
            '<contact con_id="5" ac_role_tp_c="PR" first_name="SECOND"/>'
            '<contact con_id="6" ac_role_tp_c="XX" first_name="OTHER"/>'
            '<contact con_id="" ac_role_tp_c="PR" first_name="NOID"/>'
            '<contact con_id="9" ac_role_tp_c="SEC"/>')
    result = router.map(7, document(body))
    assert [(row["con_id"], row["first_name"]) for row in result.rows["applicant"]] == [(5, "SECOND")]
