"""The staging loop on SQLite (cheap, no server): resume, limit, start_after, idempotent rewrites,
a batch refused by the staging table, refused settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from devtools.appxml import generator, seed
from pipelines.appxml import cli, ddl
from pipelines.appxml.errors import BatchRefused, StagingError
from pipelines.appxml.modulus import check_modulus, skipped_partitions, unfinished_partitions
from pipelines.appxml.staging import StagingSpec, stage_partition
from pipelines.common.database.engines import engine_from_url
from pipelines.common.database.tables import TableName
from tests.support.appxml_checks import custdata_c14n, first_staged_id_of_batch, index_exists, staging_refuses

STAGING = TableName.parse("dbo.app_xml_staging")


@pytest.fixture
def sqlite_db(tmp_path):
    engine = engine_from_url(f"sqlite:///{tmp_path / 'appxml.db'}")
    table = seed.create_source_table(engine)
    docs = list(generator.synthetic_corpus(40, seed=2, first_app_id=100, median_bytes=1_500, special_every=5))
    seed.load_source(engine, table, ((doc.app_id, seed.as_text(doc.body)) for doc in docs))
    ddl.ensure_staging_table(engine, STAGING)
    yield engine, docs
    engine.dispose()


def staged(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql('SELECT app_id, "app_XML" FROM app_xml_staging').all())


def extracted_at(engine: sa.Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.exec_driver_sql("SELECT app_id, extracted_at FROM app_xml_staging").all())


def test_two_partitions_stage_every_custdata_once(sqlite_db):
    engine, docs = sqlite_db

    metrics = [stage_partition(engine, StagingSpec(mod=2, rem=rem, batch=3)) for rem in (0, 1)]

    expected = {doc.app_id: custdata_c14n(doc.body) for doc in docs if doc.has_custdata}
    assert {app_id: custdata_c14n(xml) for app_id, xml in staged(engine).items()} == expected
    assert sum(m.processed for m in metrics) == len(docs)
    assert sum(m.staged for m in metrics) == len(expected)
    assert all(m.finished_at and m.batches == 7 for m in metrics)  # 20 rows per partition, 3 a batch


def test_a_rerun_resumes_after_the_last_staged_app_id(sqlite_db):
    engine, _ = sqlite_db
    first = stage_partition(engine, StagingSpec(mod=2, rem=0, batch=4, limit=6))
    before = extracted_at(engine)

    second = stage_partition(engine, StagingSpec(mod=2, rem=0, batch=4))
    third = stage_partition(engine, StagingSpec(mod=2, rem=0, batch=4))

    assert first.processed == 6
    assert first.resumed_after is None
    assert second.resumed_after == first.last_app_id
    assert second.processed == 14
    assert third.processed == 0
    assert third.batches == 0
    assert {k: v for k, v in extracted_at(engine).items() if k in before} == before  # not rewritten


def test_start_after_rewrites_rows_already_staged_without_conflict(sqlite_db):
    engine, docs = sqlite_db
    stage_partition(engine, StagingSpec(batch=7))
    rows_before = staged(engine)

    again = stage_partition(engine, StagingSpec(batch=7, start_after=0))

    assert again.processed == len(docs)
    assert staged(engine) == rows_before


def test_a_refused_batch_fails_the_partition_and_keeps_the_committed_batches(sqlite_db):
    engine, docs = sqlite_db
    third_batch_id = first_staged_id_of_batch([d.app_id for d in docs], {d.app_id for d in docs if d.has_custdata},
                                              batch=5, number=3)

    with staging_refuses(engine, third_batch_id), pytest.raises(
            BatchRefused, match=r"rem=0/1: dbo.app_xml_staging refused the batch of app_id \d+\.\.\d+ "
                                r"\(IntegrityError\); 2 batch\(es\) committed before it stay staged"):
        stage_partition(engine, StagingSpec(batch=5))

    first_ten = sorted(doc.app_id for doc in docs)[:10]
    assert sorted(staged(engine)) == sorted(d.app_id for d in docs if d.has_custdata and d.app_id in first_ten)
    assert issubclass(BatchRefused, StagingError)  # permanent: a retry would be refused the same way


@pytest.mark.parametrize(("spec", "message"), [
    (StagingSpec(mod=0), "mod \\(workers\\) must be at least 1"),
    (StagingSpec(mod=4, rem=4), "rem must lie in 0..3"),
    (StagingSpec(rem=-1), "rem must lie in 0..0"),
    (StagingSpec(batch=-5), "batch must be at least 1"),
    (StagingSpec(limit=-1), "limit must be 0"),
    (StagingSpec(source_table="dbo.app_xml_staging_old"), "refusing to read from dbo.app_xml_staging_old"),
    (StagingSpec(source_table="dbo.app_xml_staging"), "source and staging table are the same"),
    (StagingSpec(source_column="app XML"), "not a valid source column name"),
])
def test_bad_settings_are_refused_before_anything_is_read(sqlite_db, spec, message):
    engine, _ = sqlite_db

    with pytest.raises(StagingError, match=message):
        stage_partition(engine, spec)

    assert staged(engine) == {}


def test_force_allows_a_source_named_staging(sqlite_db):
    engine, _ = sqlite_db
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE app_xml RENAME TO app_xml_staging_copy")

    metrics = stage_partition(engine, StagingSpec(source_table="dbo.app_xml_staging_copy", force=True))

    assert metrics.processed == 40


def test_index_is_dropped_and_recreated(sqlite_db):
    engine, _ = sqlite_db
    ddl.create_staging_index(engine, STAGING)
    assert index_exists(engine, STAGING)

    ddl.drop_staging_index(engine, STAGING)
    ddl.drop_staging_index(engine, STAGING)  # dropping twice is fine
    assert not index_exists(engine, STAGING)

    ddl.create_staging_index(engine, STAGING)
    ddl.create_staging_index(engine, STAGING)
    assert index_exists(engine, STAGING)


def test_a_failing_read_stops_every_thread_and_surfaces_the_error(sqlite_db):
    engine, _ = sqlite_db
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE app_xml RENAME COLUMN app_XML TO other_column")

    with pytest.raises(sa.exc.OperationalError, match="app_XML"):
        stage_partition(engine, StagingSpec(batch=5, start_after=0))

    assert staged(engine) == {}


def test_another_workers_value_waits_until_every_partition_of_the_last_one_reached_its_end(sqlite_db):
    engine, docs = sqlite_db
    stage_partition(engine, StagingSpec(mod=4, rem=0, batch=3))
    stage_partition(engine, StagingSpec(mod=4, rem=1, batch=3, limit=4))  # stopped before its end

    assert unfinished_partitions(engine, STAGING, 2) == {4: [1, 2, 3]}  # 2 and 3 never ran
    assert unfinished_partitions(engine, STAGING, 4) == {}  # its own partitions resume where they stopped
    with pytest.raises(StagingError, match=r"workers=1 refused: .* \(workers=4: rem=1/4, rem=2/4, rem=3/4\); "
                                           r'finish them first, e.g. \{"workers": 4, "remainders": \[1, 2, 3\]\}'):
        check_modulus(engine, STAGING, 1, [0])

    for rem in (1, 2, 3):
        stage_partition(engine, StagingSpec(mod=4, rem=rem, batch=3))
    check_modulus(engine, STAGING, 1, [0])
    whole = stage_partition(engine, StagingSpec(batch=5))

    assert whole.processed == 0
    assert set(staged(engine)) == {doc.app_id for doc in docs if doc.has_custdata}


def test_a_partition_refused_midway_stays_unfinished(sqlite_db):
    engine, docs = sqlite_db
    rem1 = sorted(doc.app_id for doc in docs if doc.app_id % 2 == 1)
    refused = first_staged_id_of_batch(rem1, {doc.app_id for doc in docs if doc.has_custdata}, batch=3, number=2)

    with staging_refuses(engine, refused), pytest.raises(BatchRefused):
        stage_partition(engine, StagingSpec(mod=2, rem=1, batch=3))
    stage_partition(engine, StagingSpec(mod=2, rem=0, batch=3))

    assert unfinished_partitions(engine, STAGING, 3) == {2: [1]}


def test_the_cli_refuses_another_modulus_in_one_line_unless_told_where_to_start(sqlite_db, capsys):
    engine, _ = sqlite_db
    stage_partition(engine, StagingSpec(mod=4, rem=0, batch=3, limit=2))
    url = engine.url.render_as_string(hide_password=False)

    assert cli.main(["--url", url, "--mod", "2", "--rem", "0"]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()[-1:]
    assert line.startswith("appxml staging failed (rem=0/2): StagingError: workers=2 refused: partitions staged "
                           "with other workers have not finished (workers=4: rem=2/4)")
    assert cli.main(["--url", url, "--mod", "2", "--rem", "0", "--no-resume"]) == 0  # a rescan skips nothing


def test_another_workers_value_goes_ahead_where_it_would_skip_nothing(sqlite_db):
    """Only partition rem=2/4 ran (to its end), as in the runbook's ``dags test`` example: workers=8 resumes
    rem=2/8 and rem=6/8 after ids rem=2/4 staged in order, and starts the others from scratch."""
    engine, docs = sqlite_db
    stage_partition(engine, StagingSpec(mod=4, rem=2, batch=3))

    assert unfinished_partitions(engine, STAGING, 8) == {4: [0, 1, 3]}
    assert skipped_partitions(engine, STAGING, 8, range(8)) == {}
    # rem=0/2 holds rem=0/4 and rem=2/4: it would resume after rem=2/4's last id, past all of rem=0/4.
    assert skipped_partitions(engine, STAGING, 2, [0, 1]) == {4: [0]}

    for rem in range(8):
        stage_partition(engine, StagingSpec(mod=8, rem=rem, batch=3))

    assert set(staged(engine)) == {doc.app_id for doc in docs if doc.has_custdata}
