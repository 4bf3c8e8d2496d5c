"""The contact scopes and contact child rows on documents built here, shape by shape (issue 17's defects 1-3):
``authu_contact`` reads an authorised user without a con_id, ``last_valid_*`` never take a value from a
non-current address while the contact has a CURR one, and an address or employment holding only codes, flags
and zeros is no row."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from pipelines.common.paths import config_path
from pipelines.xml_mapping.contract import parse_contract
from pipelines.xml_mapping.documents import Failure, Router
from pipelines.xml_mapping.mapper import CompiledContract

CONTACT = "/Provenir/Request/CustData/application/contact"
PRIMARY = '<contact con_id="71" ac_role_tp_c="PR" first_name="P" last_name="Q">{}</contact>'


def document(body: str, app_id: int = 7) -> bytes:
    return (f'<Provenir><Request ID="{app_id}"><CustData><application app_receive_date="01/02/2020">{body}'
            f"</application></CustData></Request></Provenir>").encode()


def _code_mapping(path: str, attribute: str, table: str, column: str) -> dict:
    return {"xml_path": f"{CONTACT}/{path}", "xml_attribute": attribute, "target_table": table,
            "target_column": column, "data_type": "smallint", "nullable": True, "required": False,
            "mapping_type": ["enum"], "enum_name": column}


@pytest.fixture(scope="module")
def router() -> Router:
    """The example credit-card contract plus two enum-coded child columns (an other-income source type, an
    ownership type), as the production contracts map them."""
    doc = copy.deepcopy(json.loads(config_path("xml_mapping/example_cc.json").read_text()))
    doc["mappings"] += [
        _code_mapping("contact_employment", "b_other_income_source_tp_c", "applicant_employment",
                      "other_income_type_enum"),
        _code_mapping("contact_address", "ownership_tp_c", "applicant_address", "ownership_type_enum")]
    doc["enum_mappings"]["other_income_type_enum"] = {"ALIMONY": 1, "RENTAL": 2}
    doc["enum_mappings"]["ownership_type_enum"] = {"OWN": 1, "RENT": 2}
    return Router([CompiledContract(parse_contract(doc, "example_cc.json"))])


def mapped(router: Router, body: str) -> dict[str, list[dict]]:
    result = router.map(7, document(body))
    assert not isinstance(result, Failure), result.reason
    return result.rows


@pytest.mark.parametrize("con_id", ['', 'con_id=""', 'con_id="  "'])
def test_authu_contact_reads_an_authorised_user_without_a_con_id(router, con_id):
    rows = mapped(router, PRIMARY.format("") +
                  f'<contact {con_id} ac_role_tp_c="AUTHU" first_name="A"><app_prod_bcard issue_card_ind="Y"/>'
                  "</contact>")

    assert rows["application_operations"][0]["auth_user_issue_card_flag"] == 1
    # The contact itself is still no applicant row: it has no con_id.
    assert [row["con_id"] for row in rows["applicant"]] == [71]


def test_authu_contact_is_the_last_authorised_user(router):
    rows = mapped(router, PRIMARY.format("") +
                  '<contact con_id="72" ac_role_tp_c="AUTHU" first_name="A"><app_prod_bcard issue_card_ind="Y"/>'
                  '</contact><contact ac_role_tp_c="AUTHU" first_name="B"><app_prod_bcard issue_card_ind="N"/>'
                  "</contact>")

    assert rows["application_operations"][0]["auth_user_issue_card_flag"] == 0


@pytest.mark.parametrize("other", ["PREV", "PATR"])
def test_last_valid_contact_never_reads_a_former_address_while_a_current_one_exists(router, other):
    addresses = ('<contact_address address_tp_c="CURR" city="X" residence_monthly_pymnt=""/>'
                 f'<contact_address address_tp_c="{other}" city="Y" residence_monthly_pymnt="950.00"/>')
    rows = mapped(router, PRIMARY.format(addresses) +
                  '<contact con_id="73" ac_role_tp_c="SEC" first_name="S">' + addresses + "</contact>")

    operational = rows["application_operations"][0]
    assert operational["housing_payment_pr"] is None
    assert operational["housing_payment_sec"] is None


def test_last_valid_contact_takes_the_first_current_address_holding_the_value(router):
    addresses = ('<contact_address address_tp_c="PREV" residence_monthly_pymnt="100"/>'
                 '<contact_address address_tp_c="CURR" residence_monthly_pymnt=""/>'
                 '<contact_address address_tp_c="CURR" residence_monthly_pymnt="725.50"/>'
                 '<contact_address address_tp_c="CURR" residence_monthly_pymnt="800"/>')

    assert mapped(router, PRIMARY.format(addresses))["application_operations"][0]["housing_payment_pr"] == \
        Decimal("725.50")


def test_a_contact_without_a_current_address_falls_back_to_its_last_address(router):
    addresses = ('<contact_address address_tp_c="PREV" residence_monthly_pymnt="100"/>'
                 '<contact_address address_tp_c="PATR" residence_monthly_pymnt="300"/>')

    operations = mapped(router, PRIMARY.format(addresses))["application_operations"]
    assert operations[0]["housing_payment_pr"] == Decimal("300")


@pytest.mark.parametrize("tp", ["CURR", "PREV"])
def test_an_employment_of_codes_flags_and_zeros_is_no_row(router, tp):
    employment = (f'<contact_employment employment_tp_c="{tp}" b_other_income_source_tp_c="ALIMONY" '
                  'b_salary="0.00" b_salary_basis_tp_c="ANNUM" b_self_employed_ind="N"/>')

    assert "applicant_employment" not in mapped(router, PRIMARY.format(employment))


@pytest.mark.parametrize("tp", ["CURR", "PREV"])
def test_an_address_of_codes_alone_is_no_row(router, tp):
    address = f'<contact_address address_tp_c="{tp}" ownership_tp_c="RENT" months_at_residence="0"/>'

    assert "applicant_address" not in mapped(router, PRIMARY.format(address))


def test_a_code_next_to_an_amount_or_a_name_is_written(router):
    body = PRIMARY.format(
        '<contact_employment employment_tp_c="CURR" b_other_income_source_tp_c="RENTAL" b_salary="1200"/>'
        '<contact_employment employment_tp_c="PREV" b_other_income_source_tp_c="ALIMONY" b_name="ACME"/>'
        '<contact_address address_tp_c="CURR" ownership_tp_c="OWN" city="SPRINGFIELD"/>')
    rows = mapped(router, body)

    employments = sorted(rows["applicant_employment"], key=lambda row: row["employment_type_enum"])
    assert [(row["other_income_type_enum"], row["monthly_salary"], row["business_name"]) for row in employments] \
        == [(2, Decimal("1200.00"), None), (1, None, "ACME")]
    assert [(row["ownership_type_enum"], row["city"]) for row in rows["applicant_address"]] == \
        [(1, "SPRINGFIELD")]
