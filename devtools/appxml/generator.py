"""Synthetic Provenir documents of realistic shape, for tests, the demo and the benchmark.

CC documents carry ``CustData/application``; RL documents ``CustData/IL_application``, more root
attributes and a ``queues`` element next to ``Request``. Bulk (Reports, Rules, Journals) pads a document
to a target size, like the real ones, where CustData is a small part. Values are made up: no real data.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

BOM = b"\xef\xbb\xbf"
KINDS = ("ok", "malformed", "no_custdata", "empty", "id_mismatch")
_FIRST = ("ANA", "JOSÉ", "LI", "MARY", "O'NEIL", "ZOË")
_STREETS = ("Main St", "Elm & Oak Ave", "1st <North> Rd", "Caley Ave, Ste 215W")


@dataclass(frozen=True)
class SyntheticDoc:
    app_id: int
    kind: str  # one of KINDS: what the extractor must make of it
    product: str  # "cc" or "rl"
    body: bytes | None

    @property
    def has_custdata(self) -> bool:
        return self.kind in ("ok", "id_mismatch")


def _attrs(pairs: dict[str, object]) -> str:
    return " ".join(f"{key}={quoteattr(str(value))}" for key, value in pairs.items())


def _contact(rng: random.Random, con_id: int) -> str:
    person = {"con_id": con_id, "first_name": rng.choice(_FIRST), "ac_role_tp_c": "PR"}
    address = {"street_name": rng.choice(_STREETS), "zip": rng.randint(10000, 99999)}
    return (f"\n        <contact {_attrs(person)}>\n          <contact_address {_attrs(address)}/>"
            f"\n          <note>Income &amp; expenses: {rng.randint(1, 9)}0% &lt; limit</note>\n        </contact>")


def _custdata(rng: random.Random, product: str, app_id: int) -> str:
    app_tag = "application" if product == "cc" else "IL_application"
    app = {"app_type_code": rng.choice(("FPP", "HT", "RV")), "app_receive_date": f"0{rng.randint(1, 9)}/05/2015",
           "campaign_num": f"C{rng.randint(1000, 9999)}", "app_source_ind": rng.choice("AIW"), "empty_attr": ""}
    contacts = "".join(_contact(rng, app_id * 10 + i) for i in range(rng.randint(1, 3)))
    decision = {"req_prod_tp_c": "VCRDU", "decision_tp_c": rng.choice(("APPRV", "DECLN"))}
    product_el = f"<app_product {_attrs(decision)} />"
    return (f"\n    <CustData>\n      <{app_tag} {_attrs(app)}>\n        {product_el}{contacts}"
            f"\n        <!-- kept: comments inside CustData are part of it -->\n      </{app_tag}>\n    </CustData>")


def _bulk(rng: random.Random, target_bytes: int) -> str:
    """Reports / Rules / Journals elements up to about target_bytes."""
    parts, size, n = ["\n    <Reports>"], 0, 0
    while size < target_bytes:
        n += 1
        line = (f'\n      <Journal Type="Rule" ID="R{n:05d}" Timestamp="2025-11-11 20:57:31.{n % 1000:03d}" '
                f'Status="{rng.choice(("true", "false"))}" Detail="{"x" * rng.randint(20, 200)}" />')
        parts.append(line)
        size += len(line)
    parts.append("\n    </Reports>\n    <Rules />")
    return "".join(parts)


def provenir_document(app_id: int, rng: random.Random, *, product: str = "cc", target_bytes: int = 20_000,
                      request_id: object = None, custdata: bool = True, bom: bool = True,
                      declaration: bool = False) -> bytes:
    """One well-formed document, UTF-8 encoded."""
    root = {"org": "", "ProductType": "", "Version": "4.0.0", "transactionID": f"DE{rng.getrandbits(48):x}"}
    if product == "rl":
        root = {"Org": "", "sessionID": "", "stack": "", **root, "ResponseCode": "true"}
    request = {"ID": app_id if request_id is None else request_id, "UserID": "", "Workflow": f"W{rng.randint(1, 99)}",
               "Readonly": "0", "Process": "99000", "transactionCounter": rng.randint(1, 9), "_LockedBy": ""}
    inner = (_custdata(rng, product, app_id) if custdata else "") + _bulk(rng, target_bytes)
    queues = "\n  <queues><queue name=\"review\" /></queues>" if product == "rl" else ""
    text = (f"<Provenir {_attrs(root)}>\n  <Request {_attrs(request)}>{inner}\n  </Request>{queues}\n</Provenir>\n")
    if declaration:
        text = '<?xml version="1.0" encoding="utf-8"?>\n' + text
    return (BOM if bom else b"") + text.encode("utf-8")


def synthetic_doc(app_id: int, kind: str, rng: random.Random, target_bytes: int) -> SyntheticDoc:
    product = "rl" if rng.random() < 0.15 else "cc"
    options = {"product": product, "target_bytes": target_bytes, "bom": rng.random() < 0.7,
               "declaration": rng.random() < 0.2}
    if kind == "empty":
        return SyntheticDoc(app_id, kind, product, rng.choice((None, b"")))
    body = provenir_document(app_id, rng, custdata=kind != "no_custdata",
                             request_id=app_id + 1 if kind == "id_mismatch" else None, **options)
    if kind == "malformed":
        body = body[: len(body) * 2 // 3]  # truncated, like a payload cut by a bad export
    return SyntheticDoc(app_id, kind, product, body)


def synthetic_corpus(count: int, *, seed: int = 7, first_app_id: int = 1000, median_bytes: int = 20_000,
                     max_bytes: int = 2_000_000, special_every: int = 10) -> Iterator[SyntheticDoc]:
    """``count`` documents with consecutive app_ids; every ``special_every``-th one is a bad case in turn."""
    rng = random.Random(seed)
    specials = [kind for kind in KINDS if kind != "ok"]
    for i in range(count):
        kind = specials[(i // special_every) % len(specials)] if special_every and i % special_every == 3 else "ok"
        size = min(max_bytes, int(rng.lognormvariate(0, 0.8) * median_bytes))
        yield synthetic_doc(first_app_id + i, kind, rng, size)
