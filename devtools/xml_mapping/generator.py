"""Staged Provenir documents (``Provenir/Request/CustData``, as ``appxml_staging`` leaves them) for the
example contracts in ``include/config/xml_mapping/``: credit card (``application``) and recreational lending
(``IL_application``). Values are made up; every mapping type of the example contracts gets data."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

_FIRST = ("ANA", "JOSÉ", "LI", "MARY", "O'NEIL", "ZOË")
_LAST = ("SMITH", "NGUYEN", "GARCÍA", "O'BRIEN")
_STREETS = ("Main St", "Elm & Oak Ave", "1st <North> Rd")


def _attrs(pairs: dict[str, object]) -> str:
    return " ".join(f"{key}={quoteattr(str(value))}" for key, value in pairs.items())


def _element(tag: str, attrs: dict[str, object], children: str = "") -> str:
    return f"<{tag} {_attrs(attrs)}>{children}</{tag}>" if children else f"<{tag} {_attrs(attrs)}/>"


def _contact(rng: random.Random, con_id: int, role: str) -> str:
    person = {"con_id": con_id, "ac_role_tp_c": role, "first_name": rng.choice(_FIRST),
              "last_name": rng.choice(_LAST), "ssn": f"{rng.randint(1, 899):03d}-{rng.randint(1, 99):02d}-1234",
              "birth_date": f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/19{rng.randint(40, 99)}"}
    address = _element("contact_address", {
        "address_tp_c": "CURR", "street_name": rng.choice(_STREETS), "city": "SPRINGFIELD",
        "zip": f"0{rng.randint(1000, 9999)}", "home_phone": f"({rng.randint(200, 999)}) 555-0{rng.randint(100, 199)}",
        "months_at_residence": rng.randint(0, 11), "years_at_residence": rng.randint(0, 9),
        "residence_monthly_pymnt": f"{rng.randint(300, 3000)}.{rng.randint(0, 99):02d}"})
    previous = _element("contact_address", {"address_tp_c": "PREV", "street_name": rng.choice(_STREETS),
                                            "city": "", "zip": "", "months_at_residence": "", "years_at_residence": ""})
    job = _element("contact_employment", {
        "employment_tp_c": "CURR", "b_name": "ACME & SONS", "b_salary": rng.randint(20, 200) * 1000,
        "b_salary_basis_tp_c": rng.choice(("ANNUM", "WEEK", "")), "b_self_employed_ind": rng.choice("YN")})
    card = _element("app_prod_bcard", {"issue_card_ind": rng.choice("YN"), "credit_line": rng.randint(5, 50) * 100,
                                       "recur_payment": rng.choice(("Y", "", "N"))})
    return _element("contact", person, address + previous + job + card)


def cc_custdata(app_id: int, rng: random.Random, con_id: int) -> str:
    app = {"app_receive_date": f"{rng.randint(1, 12):02d}/{rng.randint(1, 28):02d}/20{rng.randint(15, 25)}",
           "app_source_ind": rng.choice("AIW"), "app_type_code": rng.choice(("FPP", "HT", "RV", "")),
           "campaign_num": f"C{rng.randint(1000, 9999)}", "signature_ind": rng.choice("YN"),
           "esign_consent": rng.choice(("true", "false", "")), "paperless_ind": rng.choice(("yes", "no"))}
    product = _element("app_product", {
        "decision_tp_c": rng.choice(("APPRV", "DECLN")), "decision_date": "2025-11-5 9:2:34.767",
        "regb_start_date": rng.choice(("", "2025-01-02")), "regb_closed_days": rng.choice(("0", "30")),
        "risk_tier": rng.choice(("A", "B", "C1", "D")), "supervisor_rev_ind": rng.choice("YN"),
        "InstantID_Score": rng.choice(("40", "", "50")), "fico_score": rng.randint(500, 850),
        "vantage_score": rng.choice(("", str(rng.randint(500, 850)))), "fraud_ssn_ind": rng.choice(("Y", "N", ""))})
    contacts = _contact(rng, con_id, "PR")
    if rng.random() < 0.5:
        contacts += _contact(rng, con_id + 1, rng.choice(("SEC", "AUTHU")))
    rmts = _element("rmts_info", {"late_payment_fee": "$25", "apr": "24.99", "annual_fee": "1,000",
                                  "statement_date": "2025-03-15 extra"})
    collateral = _element("collateral", {"coll1_make": "MAGIC TRAILER", "coll1_value": "1,250.50",
                                         "coll2_make": "", "coll2_value": ""})
    policies = _element("backend_policies", {"gap_company": "GAP CO", "gap_amount": "499", "gap_lien": "Y",
                                             "service_company": "", "service_amount": ""})
    decision = _element("decision_info", {"override_capacity": "cap", "override_credit": "",
                                          "override_notes": "one note for all"})
    body = product + contacts + rmts + collateral + policies + decision
    return f"<CustData>{_element('application', app, body)}</CustData>"


def rl_custdata(app_id: int, rng: random.Random, con_id: int) -> str:
    app = {"app_receive_date": "2025-05-07 21:35:29.548", "app_type_code": rng.choice(("MARINE", "RV", "OR")),
           "loan_amount_requested": f"{rng.randint(5, 90)},{rng.randint(100, 999)}.00",
           "requested_term_months": rng.choice((60, 120, 180))}
    contact = _element("IL_contact", {"con_id": con_id, "ac_role_tp_c": "PR", "first_name": rng.choice(_FIRST),
                                      "last_name": rng.choice(_LAST)})
    decision = _element("IL_app_decision_info", {"MRV_score_p": rng.randint(600, 800)})
    return f"<CustData>{_element('IL_application', app, contact + decision)}</CustData>"


def staged_document(app_id: int, rng: random.Random, *, product: str = "cc", con_id: int | None = None,
                    request_id: object = None, bom: bool = False) -> bytes:
    """One staged document for the example contracts."""
    con_id = app_id * 10 if con_id is None else con_id
    custdata = (cc_custdata if product == "cc" else rl_custdata)(app_id, rng, con_id)
    request = {"ID": app_id if request_id is None else request_id, "Process": "99000"}
    text = f"<Provenir {_attrs({'Version': '4.0.0'})}><Request {_attrs(request)}>{custdata}</Request></Provenir>"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def staged_corpus(count: int, *, seed: int = 11, first_app_id: int = 1000, rl_share: float = 0.3
                  ) -> Iterator[tuple[int, str, bytes]]:
    """(app_id, product, document) for ``count`` consecutive app_ids."""
    rng = random.Random(seed)
    for offset in range(count):
        product = "rl" if rng.random() < rl_share else "cc"
        app_id = first_app_id + offset
        yield app_id, product, staged_document(app_id, rng, product=product)


CON_IDS_PER_APP = 100
_REQUEST_ID = re.compile(rb'(<Request\b[^>]*?\bID=")([^"]*)(")')
_CON_ID = re.compile(rb'(\bcon_id=")(\d+)(")')


def renumber(document: bytes, app_id: int, first_con_id: int) -> bytes:
    """A corpus document as another application: ``Request/@ID`` set to ``app_id`` and its distinct
    ``con_id``s renumbered from ``first_con_id`` (real con_ids are unique across applications)."""
    document = _REQUEST_ID.sub(lambda m: m[1] + str(app_id).encode() + m[3], document, count=1)
    numbers: dict[bytes, int] = {}

    def new_id(match: re.Match[bytes]) -> bytes:
        number = numbers.setdefault(match[2], first_con_id + len(numbers))
        return match[1] + str(number).encode() + match[3]
    return _CON_ID.sub(new_id, document)


def corpus_cycle(corpus_dir: Path, count: int, *, first_app_id: int = 1_000_000,
                 skip: tuple[str, ...] = ("cc_bloat.xml",)) -> Iterator[tuple[int, bytes]]:
    """``count`` applications cycled from the shared corpus, each with a unique app_id and con_ids."""
    files = [path for path in sorted(corpus_dir.glob("*.xml")) if path.name not in skip]
    bodies = [path.read_bytes() for path in files]
    for offset in range(count):
        app_id = first_app_id + offset
        yield app_id, renumber(bodies[offset % len(bodies)], app_id, first_con_id=1 + offset * CON_IDS_PER_APP)
