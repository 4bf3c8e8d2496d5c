"""Static checks of the deployment files: no Docker engine runs on this project's machines, so the
compose file and the Dockerfile are checked by reading them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
DATA_SERVICES = {"mssql", "mariadb", "analytics-postgres", "moto"}
REQUIRED_PACKAGES = {
    "apache-airflow", "apache-airflow-providers-microsoft-mssql", "apache-airflow-providers-amazon",
    "apache-airflow-providers-mysql", "apache-airflow-providers-postgres", "apache-airflow-providers-slack",
    "apache-airflow-providers-common-sql", "apache-airflow-providers-standard", "lxml",
}


def requirement_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        name, sep, version = line.partition("==")
        assert sep, f"{path.name}: '{line}' is not pinned with =="
        pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


@pytest.fixture(scope="module")
def airflow_version() -> str:
    return requirement_pins(ROOT / "requirements.txt")["apache-airflow"]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_runtime_requirements_are_pinned_and_complete():
    pins = requirement_pins(ROOT / "requirements.txt")
    assert pins.keys() >= REQUIRED_PACKAGES
    assert pins["apache-airflow"] == "3.3.2"


def test_dev_requirements_are_pinned_and_agree_with_constraints():
    dev = requirement_pins(ROOT / "requirements-dev.txt")
    constraints = requirement_pins(ROOT / "constraints.txt")
    runtime = requirement_pins(ROOT / "requirements.txt")
    for name, version in {**runtime, **dev}.items():
        assert constraints.get(name) == version, f"{name}=={version} differs from constraints.txt"


def test_compose_has_every_service_with_health_checks(compose):
    services = compose["services"]
    assert {"postgres", "airflow-init"} | AIRFLOW_SERVICES | DATA_SERVICES <= services.keys()
    for name in (services.keys() - {"airflow-init"}):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"


def test_airflow_services_mount_the_project_and_run_local_executor(compose):
    for name in AIRFLOW_SERVICES | {"airflow-init"}:
        service = compose["services"][name]
        targets = {volume.split(":")[1] for volume in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= targets, name
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "${AIRFLOW_EXECUTOR:-LocalExecutor}"
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert compose["services"]["airflow-apiserver"]["ports"] == ["8080:8080"]


def test_image_tag_matches_pinned_airflow(compose, airflow_version):
    common = compose["services"]["airflow-scheduler"]
    assert common["build"]["args"]["AIRFLOW_VERSION"] == airflow_version
    assert common["image"].endswith(f":{airflow_version}}}")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={airflow_version}" in dockerfile
    assert "FROM apache/airflow:${AIRFLOW_VERSION}" in dockerfile
    assert "requirements.txt" in dockerfile


def test_init_migrates_and_imports_pools(compose):
    script = "\n".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in script
    assert "airflow pools import /opt/airflow/include/config/pools.json" in script


def test_compose_defines_every_connection_and_no_literal_secret(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    for conn_id in ("mssql_appxml", "opendental_source", "opendental_replication", "opendental_analytics",
                    "aws_flywheel", "slack_alerts"):
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env
    for name, value in env.items():
        if name.startswith("AIRFLOW_CONN_"):
            password = json.loads(value).get("password", "")
            assert password.startswith("${") or password == "local", f"{name} has a literal password"
    for service in compose["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if name.endswith("PASSWORD"):
                assert str(value).startswith("${"), f"{name} is a literal, not taken from .env"


def test_celery_profile_adds_redis_and_workers_sharing_the_airflow_settings(compose):
    services = compose["services"]
    assert services["redis"]["profiles"] == ["celery"]
    worker = services["airflow-worker"]
    assert worker["profiles"] == ["celery"]
    assert worker["command"] == "celery worker"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in worker
    scheduler_env = services["airflow-scheduler"]["environment"]
    for name in ("AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
                 "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", "AIRFLOW_CONN_MSSQL_APPXML"):
        assert worker["environment"][name] == scheduler_env[name], name
    assert scheduler_env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
    # Without the profile nothing Celery-only starts: the default stack stays LocalExecutor.
    assert {name for name, service in services.items() if "celery" in service.get("profiles", [])} == {
        "redis", "airflow-worker"}
    worker_volumes = {volume.split(":")[1] for volume in worker["volumes"]}
    assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= worker_volumes


def test_celery_provider_is_pinned_for_the_image():
    pins = requirement_pins(ROOT / "requirements.txt")
    assert "apache-airflow-providers-celery" in pins
    assert "celery" in pins


OBSERVABILITY = {"marquez-db", "marquez", "marquez-web", "statsd-exporter", "prometheus", "grafana"}


def test_observability_profile_receives_lineage_and_metrics(compose):
    services = compose["services"]
    assert {name for name, service in services.items() if service.get("profiles") == ["observability"]} == OBSERVABILITY
    env = services["airflow-scheduler"]["environment"]
    # Off unless .env turns them on: the default stack neither sends events nor figures.
    assert env["AIRFLOW__OPENLINEAGE__TRANSPORT"] == "${OPENLINEAGE_TRANSPORT:-}"
    assert env["AIRFLOW__METRICS__STATSD_ON"] == "${STATSD_ON:-false}"
    assert env["AIRFLOW__METRICS__STATSD_HOST"] == "statsd-exporter"
    assert env["AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED"] == "true"
    assert "9125" in " ".join(services["statsd-exporter"]["command"])
    example = (ROOT / ".env.example").read_text()
    transport = next(line for line in example.splitlines() if "OPENLINEAGE_TRANSPORT=" in line)
    assert json.loads(transport.split("=", 1)[1])["url"] == "http://marquez:5000"
    mounted = [volume.split(":")[0] for name in ("prometheus", "grafana") for volume in services[name]["volumes"]]
    for path in mounted:
        assert (ROOT / path).exists(), path
    prometheus = yaml.safe_load((ROOT / "devtools/observability/prometheus.yml").read_text())
    assert prometheus["scrape_configs"][0]["static_configs"][0]["targets"] == ["statsd-exporter:9102"]


def test_grafana_dashboard_plots_every_documented_figure():
    from pipelines.common.metrics import FIGURES

    dashboard = json.loads((ROOT / "devtools/observability/grafana/dashboards/pipelines.json").read_text())
    exprs = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel["targets"])
    for figure in FIGURES:
        assert f"airflow_pipelines_{figure}" in exprs, figure
