"""The partition worker on real PostgreSQL: every application one unit, failures as rows, refused batches
narrowed to the culprits, reruns without duplicates, a partition that dies midway rerun exactly once."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from devtools.xml_mapping.generator import staged_document
from pipelines.xml_mapping.partition import MappingSpec, map_partition

pytestmark = pytest.mark.integration


def run(mapping_db, **spec):
    return map_partition(mapping_db.engine, mapping_db.contracts, mapping_db.target,
                         MappingSpec(**{"batch": 7, **spec}))


def test_every_application_lands_once_and_a_rerun_adds_nothing(mapping_db):
    metrics = run(mapping_db)

    assert (metrics.processed, metrics.succeeded, metrics.failed) == (mapping_db.documents, mapping_db.documents, 0)
    log = mapping_db.log()
    assert sorted(log) == list(range(mapping_db.first_app_id, mapping_db.first_app_id + mapping_db.documents))
    assert all(entries == [("success", None)] for entries in log.values())
    counts = mapping_db.counts()
    products = list(mapping_db.products.values())
    assert counts["application"] == mapping_db.documents
    assert counts["loan_terms"] == products.count("rl")
    assert counts["application_operations"] == products.count("cc")
    assert counts["scores"] > 0
    assert counts["collateral_item"] == products.count("cc")
    assert metrics.rows_per_table["application"] == mapping_db.documents
    assert mapping_db.rows("SELECT DISTINCT session_id FROM migration.processing_log") == [(None,)]

    again = run(mapping_db)

    assert again.processed == 0
    assert mapping_db.counts() == counts


def test_partitions_split_the_applications_by_remainder(mapping_db):
    first = run(mapping_db, mod=3, rem=1, session_id="s1")
    assert first.processed == sum(1 for app_id in mapping_db.products if app_id % 3 == 1)
    assert {row[0] % 3 for row in mapping_db.rows("SELECT app_id FROM migration.application")} == {1}
    limited = run(mapping_db, mod=3, rem=2, limit=4)
    assert limited.processed == 4
    assert mapping_db.rows("SELECT DISTINCT session_id FROM migration.processing_log ORDER BY 1") == [
        ("s1",), (None,)]


def test_bad_documents_are_failed_rows_and_the_batch_goes_on(mapping_db):
    rng = random.Random(9)
    dtd = (b'<?xml version="1.0"?><!DOCTYPE P [<!ENTITY x "xxxxxxxxxxxxxxxxxx"><!ENTITY y "&x;&x;&x;&x;">]>'
           b'<Provenir><Request ID="90001"><CustData><application app_type_code="&y;"/></CustData></Request>'
           b"</Provenir>")
    mapping_db.stage([
        (90001, dtd),
        (90002, staged_document(90002, rng)[:200]),
        (90003, b'<Provenir><Request ID="90003"><CustData><mortgage/></CustData></Request></Provenir>'),
        (90004, staged_document(90004, rng, request_id=90005)),
        (90006, staged_document(90006, rng)),
    ])

    metrics = run(mapping_db, batch=50)

    log = mapping_db.log()
    assert log[90001] == [("failed", "validation: the document declares a DOCTYPE or entities (refused)")]
    assert log[90002] == [("failed", "parsing: the document is not well-formed XML")]
    assert log[90003][0][1].startswith("validation: unknown product: no contract for CustData/mortgage")
    assert log[90004] == [("failed", "validation: Request/@ID 90005 does not match app_id 90004")]
    assert log[90006] == [("success", None)]
    assert metrics.failed_by_stage == {"validation": 3, "parsing": 1}
    assert mapping_db.rows("SELECT app_id FROM migration.application WHERE app_id > 90000") == [(90006,)]


def test_a_refused_batch_is_narrowed_to_the_application_that_caused_it(mapping_db):
    culprit = mapping_db.first_app_id + 11
    with mapping_db.engine.begin() as conn:  # a row already there: the culprit's application insert collides
        conn.exec_driver_sql("INSERT INTO migration.application (app_id, receive_date, campaign_num) "
                             "VALUES (%s, '2020-01-01', 'X')", (culprit,))

    metrics = run(mapping_db, batch=20)

    log = mapping_db.log()
    assert log[culprit] == [("failed", "insertion: UniqueViolation on application (SQLSTATE 23505) "
                                       "constraint PK_application")]
    assert metrics.succeeded == mapping_db.documents - 1
    assert metrics.failed_by_stage == {"insertion": 1}
    assert all(entries == [("success", None)] for app_id, entries in log.items() if app_id != culprit)
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.applicant WHERE app_id = %s", culprit) == 0
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.application") == mapping_db.documents


def test_a_con_id_owned_by_another_application_is_a_failed_row_naming_both(mapping_db):
    rng = random.Random(4)
    owner, intruder, twin = 91000, 91001, 91002
    mapping_db.stage([(owner, staged_document(owner, rng, con_id=777)),
                      (intruder, staged_document(intruder, rng, con_id=777)),
                      (twin, staged_document(twin, rng, product="rl", con_id=777))])
    run(mapping_db, batch=2)

    log = mapping_db.log()
    assert log[owner] == [("success", None)]
    assert log[intruder][0][0] == "failed"  # its second contact (778), if any, is named as well
    assert log[intruder][0][1].startswith(f"validation: con_id 777 belongs to app_id {owner}")
    assert log[twin] == [("failed", f"validation: con_id 777 belongs to app_id {owner}")]
    assert mapping_db.rows("SELECT app_id FROM migration.applicant WHERE con_id = 777") == [(owner,)]


def test_failed_applications_are_retried_only_when_asked(mapping_db):
    rng = random.Random(5)
    mapping_db.stage([(92000, staged_document(92000, rng, request_id=1))])
    run(mapping_db)
    with mapping_db.engine.begin() as conn:  # the source is fixed
        conn.exec_driver_sql('UPDATE dbo.app_xml_staging SET "app_XML" = %s WHERE app_id = 92000',
                             (staged_document(92000, rng).decode(),))

    assert run(mapping_db).processed == 0
    retried = run(mapping_db, retry_failed=True)

    assert (retried.processed, retried.succeeded) == (1, 1)
    assert [status for status, _ in mapping_db.log()[92000]] == ["failed", "success"]
    assert run(mapping_db, retry_failed=True).processed == 0




def test_a_partition_that_dies_midway_is_rerun_exactly_once(mapping_db, kill_switch):
    kill_switch(mapping_db.first_app_id + 30)

    with pytest.raises(sa.exc.OperationalError):  # the writer's connection is killed in its 5th batch
        run(mapping_db, batch=7)

    landed = mapping_db.scalar("SELECT COUNT(*) FROM migration.processing_log")
    assert landed == 28  # four committed batches of seven
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.application") == 28
    kill_switch(None)

    rerun = run(mapping_db, batch=7)

    assert rerun.processed == mapping_db.documents - 28
    log = mapping_db.log()
    assert len(log) == mapping_db.documents
    assert all(entries == [("success", None)] for entries in log.values())
    assert mapping_db.scalar("SELECT COUNT(*) FROM migration.application") == mapping_db.documents
    assert mapping_db.scalar("SELECT COUNT(DISTINCT con_id) FROM migration.applicant") == \
        mapping_db.scalar("SELECT COUNT(*) FROM migration.applicant")
