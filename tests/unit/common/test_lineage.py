"""OpenLineage dataset names from Airflow connections (host, port and database only), and a provider that
stays off (no listener, no lookups) while no transport is configured."""

from __future__ import annotations

import json

import pytest

from pipelines.common import lineage


@pytest.fixture
def connections(set_connection):
    set_connection("od_source", json.dumps({"conn_type": "mysql", "host": "db1.example", "port": 3307,
                                            "schema": "opendental", "login": "etl", "password": "s3cr3t"}))
    set_connection("analytics", json.dumps({"conn_type": "postgres", "host": "pg.example",
                                            "schema": "analytics", "login": "etl", "password": "s3cr3t"}))
    set_connection("appxml", json.dumps({"conn_type": "mssql", "host": "sql.example", "schema": "LOS",
                                         "login": "etl", "password": "s3cr3t"}))


@pytest.mark.parametrize(("ref", "expected"), [
    (lineage.table("od_source", "patient"), ("mysql://db1.example:3307", "opendental.patient")),
    (lineage.table("analytics", "raw", "patient"), ("postgres://pg.example:5432", "analytics.raw.patient")),
    (lineage.table("appxml", "dbo.app_xml"), ("mssql://sql.example:1433", "LOS.dbo.app_xml")),
    (lineage.database("appxml", "member_repo_01"), ("mssql://sql.example:1433", "member_repo_01")),
    (lineage.s3("s3://bucket/some/prefix/"), ("s3://bucket", "some/prefix/")),
    (lineage.glue_table("us-east-1", "omc", "ext_*"),
     ("awsathena://athena.us-east-1.amazonaws.com", "AwsDataCatalog.omc.ext_*")),
])
def test_names_follow_the_openlineage_naming_spec(connections, ref, expected):
    assert lineage.resolve(ref) == expected


def test_datasets_carry_schema_and_row_counts_but_no_credentials(connections):
    from openlineage.client.serde import Serde

    out = lineage.to_openlineage(lineage.table("od_source", "patient", rows=12, columns=[("PatNum", "bigint")]),
                                 output=True)
    text = Serde.to_json(out)
    assert json.loads(text)["outputFacets"]["outputStatistics"]["rowCount"] == 12
    assert json.loads(text)["facets"]["schema"]["fields"][0]["name"] == "PatNum"
    assert "s3cr3t" not in text
    assert "etl" not in text


def test_without_a_transport_openlineage_is_off_and_declare_looks_nothing_up(monkeypatch):
    from tests.support.openlineage import clear_provider_config

    monkeypatch.delenv("AIRFLOW__OPENLINEAGE__TRANSPORT", raising=False)
    clear_provider_config()
    assert not lineage.enabled()
    # No task context, no connection: it would raise if it looked anything up.
    lineage.declare([lineage.table("no_such_connection", "t")], [lineage.s3("s3://b/k")])


def test_flywheel_jobs_read_and_write_what_their_arguments_name():
    from pipelines.flywheel.config import current_config
    from pipelines.flywheel.jobs import RunSettings, job_datasets, job_run_request

    cfg = current_config()
    _, args = job_run_request(cfg, "register_part_tables", RunSettings(snapshot_dt="2026-03-01"))
    inputs, outputs = job_datasets(cfg, args)
    assert [lineage.resolve(r) for r in inputs] == [lineage.resolve(lineage.s3(
        f"{cfg.target('split_part_root').rstrip('/')}/snapshot_dt=2026-03-01/"))]
    assert [lineage.resolve(r)[1] for r in outputs] == [f"AwsDataCatalog.{cfg.database}.part_*"]
