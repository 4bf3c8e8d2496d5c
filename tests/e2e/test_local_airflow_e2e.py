"""``make airflow`` and ``make shell`` hold up under ordinary use, on the code they run
(``devtools.demo.served_airflow``: api-server, scheduler, dag-processor and triggerer as separate processes,
metadata in the local PostgreSQL, the demo stand-ins; its env file for the shell) on free ports:

- every command of the runbook's "Running one DAG" section, read from the runbook itself, runs as written in the shell's
  environment and does what its comment says;
- 30 runs triggered across the DAGs through the REST API get no server error, and every run finishes in the
  state the demo data gives it;
- the runbook's Flywheel backfill on the demo data, created and watched with its own commands, finishes;
- the runbook's UI steps, clicked in headless chromium: trigger with conf from the form, the run's mapped
  partitions, one failed partition cleared and rerun (``make screenshots`` keeps the pictures in ``docs/``).
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from devtools.appxml import generator, seed
from devtools.demo import served_airflow
from devtools.localdb import free_port, unique_name
from pipelines.appxml import ddl
from pipelines.common.database.engines import engine_from_url
from pipelines.common.database.tables import TableName
from tests.support.airflow_cluster import AirflowCluster
from tests.support.airflow_ui import AirflowUi, screenshots_dir
from tests.support.appxml_checks import staging_refuses
from tests.support.readme import RUNBOOK, code_block

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
RUNS = 30
#: Triggered at once: one run of every DAG, a third OpenDental one, two of every Fileload and Insight DAG (four
#: runs per partition: each waits for the partition's run lock in the triggerer), and appxml_staging (whose runs
#: queue: max_active_runs=1) up to 30. One run per Flywheel DAG: two runs of one Flywheel DAG start the same Glue
#: job and the second fails with ConcurrentRunsExceededException (no max_active_runs), retried 5 minutes later.
PARTITION_DAGS = ("pup_fileload__a", "gr_insight__a", "pup_fileload__b", "gr_insight__b")
MORE_AT_ONCE = {"opendental_nightly": 3, **dict.fromkeys(PARTITION_DAGS, 2)}
STAGING_DAG = FILLER = "appxml_staging"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The local Airflow of ``make airflow``, with demo databases of its own (dropped afterwards)."""
    home = tmp_path_factory.mktemp("local_airflow") / "home"
    prefix = unique_name("pipelines_e2e_demo")
    running = None
    try:
        with served_airflow(home, free_port(), db_prefix=prefix, say=lambda _: None) as running:
            cluster = AirflowCluster.attach(running.airflow, running.login)
            cluster.wait_for_dags(spec.dag_id for spec in running.specs)
            yield running, cluster
    finally:
        if running is not None:
            running.demo_env.drop_databases()


def test_api_server_listens_on_localhost_only(served):
    running, cluster = served
    assert cluster.api("GET", "monitor/health")["triggerer"]["status"] == "healthy"
    assert f"Uvicorn running on http://127.0.0.1:{running.airflow.api_port}" in running.airflow.log_tail(
        "api-server", lines=400)


def test_the_shell_has_the_rest_login_and_make_shell_opens(served, tmp_path):
    """The env file gives the runbook's REST variables (a token is issued for them), only its owner reads it, and
    ``make shell`` opens on it while the Airflow answers."""
    running, _ = served
    assert running.env_file.stat().st_mode & 0o077 == 0
    token = in_shell(running.env_file, 'curl -s --fail-with-body -X POST "$AIRFLOW_URL/auth/token" '
                     "-H 'Content-Type: application/json' -d @- <<< "
                     '"{\\"username\\": \\"$AIRFLOW_USER\\", \\"password\\": \\"$AIRFLOW_PASSWORD\\"}"')
    assert token.returncode == 0, token.stdout[-500:] + token.stderr[-500:]
    assert '"access_token"' in token.stdout
    (tmp_path / ".airflow").mkdir()
    (tmp_path / ".airflow" / "airflow.env").symlink_to(running.env_file)
    shell = subprocess.run(["make", "-s", "-f", str(Path(__file__).resolve().parents[2] / "Makefile"), "shell"],
                           cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                           check=False)
    assert shell.returncode == 0, shell.stderr[-1000:]
    assert "airflow CLI of the local Airflow" in shell.stdout


def readme_cli_commands() -> list[str]:
    """The command lines of the runbook's "Running one DAG" code block (the one that unpauses and triggers)."""
    block = code_block("## Running one DAG", "bash", "airflow dags unpause", doc=RUNBOOK)
    return [line for line in block.splitlines() if line.strip()]


def dag_id_of(command: str) -> str:
    """``airflow <group> <verb> <dag_id> ...``, after any ``NAME=value`` prefix."""
    words = command.split()
    return words[words.index("airflow") + 3]


def in_shell(served_env_file: Path, command: str) -> subprocess.CompletedProcess:
    """``command`` as typed in ``make shell``: a clean bash that sourced the env file ``make airflow`` wrote."""
    script = f"source {shlex.quote(str(served_env_file))} && {command}"
    clean = {"HOME": str(Path.home()), "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    return subprocess.run(["bash", "--noprofile", "--norc", "-c", script], env=clean, capture_output=True,
                          text=True, timeout=600, check=False)


def runs_of(cluster: AirflowCluster, dag_id: str) -> dict[str, dict]:
    return {run["dag_run_id"]: run for run in cluster.api("GET", f"dags/{dag_id}/dagRuns?limit=100")["dag_runs"]}


class ReadmeCommands:
    """What each runbook command must have done, checked from what Airflow reports."""

    def __init__(self, cluster: AirflowCluster) -> None:
        self.cluster = cluster
        self.triggered: tuple[str, str] | None = None
        self.checks: dict[str, Callable[[re.Match, Callable[[], subprocess.CompletedProcess]], None]] = {
            # In-process runs leave the Deadline Alert out (Airflow 3.3.2 crashes as such a run succeeds).
            r"PIPELINES_DEADLINE_ALERTS=off airflow dags test (\S+) ": self.dags_test,
            r"airflow dags unpause (\S+)": self.unpause,
            r"airflow dags trigger (\S+) ": self.trigger,
            r"airflow dags list-runs (\S+)": self.list_runs,
            r"airflow tasks clear (\S+) .*--only-failed.* -y": self.clear_failed,
        }

    def check(self, command: str, run: Callable[[], subprocess.CompletedProcess]) -> None:
        for pattern, check in self.checks.items():
            if match := re.match(pattern, command):
                return check(match, run)
        raise AssertionError(f"runbook command without an outcome check here: {command}")

    @staticmethod
    def ran(run: Callable[[], subprocess.CompletedProcess]) -> subprocess.CompletedProcess:
        result = run()
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result

    def dags_test(self, match: re.Match, run: Callable) -> None:
        dag_id = match.group(1)
        before = runs_of(self.cluster, dag_id)
        self.ran(run)
        new = [r for rid, r in runs_of(self.cluster, dag_id).items() if rid not in before]
        assert [(r["run_type"], r["state"]) for r in new] == [("manual", "success")], new

    def unpause(self, match: re.Match, run: Callable) -> None:
        self.ran(run)
        assert self.cluster.api("GET", f"dags/{match.group(1)}")["is_paused"] is False

    def trigger(self, match: re.Match, run: Callable) -> None:
        dag_id = match.group(1)
        before = runs_of(self.cluster, dag_id)
        self.ran(run)
        new = [rid for rid in runs_of(self.cluster, dag_id) if rid not in before]
        assert len(new) == 1, new
        self.triggered = (dag_id, new[0])
        assert self.cluster.wait_for_runs([self.triggered]) == {self.triggered: "success"}

    def list_runs(self, match: re.Match, run: Callable) -> None:
        output = self.ran(run).stdout
        assert self.triggered, "runbook: trigger a run before listing runs"
        assert self.triggered[1] in output, output[-2000:]

    def clear_failed(self, match: re.Match, run: Callable) -> None:
        """A partition of the triggered (manual) run is set failed; the command reruns exactly that one."""
        assert self.triggered, "runbook: trigger a run before clearing"
        dag_id, run_id = self.triggered
        path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/stage_partition"
        self.cluster.api("PATCH", f"{path}/1", {"new_state": "failed"})
        self.ran(run)
        assert self.cluster.wait_for_runs([self.triggered]) == {self.triggered: "success"}
        tries = {ti["map_index"]: ti["try_number"] for ti in self.cluster.api("GET", f"{path}/listMapped")[
            "task_instances"]}
        assert tries == {index: 2 if index == 1 else 1 for index in tries}, tries  # only rem 1 ran again


def test_every_readme_cli_command_runs_as_written_in_the_shell(served):
    running, cluster = served
    commands = readme_cli_commands()
    for dag_id in {dag_id_of(command) for command in commands}:
        cluster.api("PATCH", f"dags/{dag_id}", {"is_paused": True})  # as after `make airflow`
    checks = ReadmeCommands(cluster)
    for command in commands:
        checks.check(command, lambda command=command: in_shell(running.env_file, command))


def test_the_runbook_backfill_finishes_on_the_demo_data_and_is_watched(served):
    """The runbook's Flywheel backfill (the demo's one snapshot date, one run at a time), as written in the
    shell: it creates one backfill run that succeeds; the watch commands list that backfill and its run."""
    running, cluster = served
    dag_id = "flywheel_partitioned"
    cluster.api("PATCH", f"dags/{dag_id}", {"is_paused": True})  # as after `make airflow`
    create = code_block("## Backfill", "bash", "airflow backfill create", doc=RUNBOOK)
    created = in_shell(running.env_file, f"set -e\n{create}")
    assert created.returncode == 0, created.stdout[-2000:] + created.stderr[-3000:]
    assert "2026-01-15" in created.stdout  # the dry run names the date

    def backfill_runs() -> list[tuple[str, str]] | None:
        runs = [(dag_id, rid) for rid, run in runs_of(cluster, dag_id).items() if run["run_type"] == "backfill"]
        return runs or None

    runs = cluster.wait_until(backfill_runs, 120, "the backfill's run", poll=2)
    assert len(runs) == 1, runs
    assert cluster.wait_for_runs(runs) == {runs[0]: "success"}, cluster.diagnostics(runs)
    assert runs_of(cluster, dag_id)[runs[0][1]]["logical_date"].startswith("2026-01-15")

    token = code_block("## Rerun failed partitions", "bash", "/auth/token", doc=RUNBOOK)
    watch = code_block("## Backfill", "bash", "api/v2/backfills?dag_id", doc=RUNBOOK)
    watched = in_shell(running.env_file, f"set -eo pipefail\n{token}{watch}")
    assert watched.returncode == 0, watched.stdout[-2000:] + watched.stderr[-3000:]
    printed = [json.loads(line) for line in watched.stdout.splitlines() if line.startswith("[")]
    backfills = [line for line in printed if isinstance(line[0], int)]  # [id, paused, max active runs, completed]
    dag_runs = [line for line in printed if isinstance(line[0], str)]  # [run id, state]
    assert [line[2] for line in backfills] == [1], watched.stdout  # one backfill, --max-active-runs 1
    assert dag_runs == [[runs[0][1], "success"]], watched.stdout


def test_thirty_runs_through_the_rest_api_finish_without_a_server_error(served):
    running, cluster = served
    for spec in running.specs:
        cluster.unpause(spec.dag_id)
    specs = {spec.dag_id: spec for spec in running.specs}
    at_once = {dag_id: MORE_AT_ONCE.get(dag_id, 1) for dag_id in specs}
    at_once[FILLER] += RUNS - sum(at_once.values())

    def trigger(dag_ids: list[str]) -> list[tuple[tuple[str, str], str]]:
        """Every REST call (trigger, state, task instances) raises on a 4xx/5xx."""
        return [((dag_id, cluster.trigger(dag_id, conf=dict(specs[dag_id].conf))), specs[dag_id].expect_state)
                for dag_id in dag_ids]

    runs = trigger([dag_id for n in range(max(at_once.values())) for dag_id in at_once if at_once[dag_id] > n])
    assert len(runs) == RUNS
    states = cluster.wait_for_runs(run for run, _ in runs)

    assert {run: states[run] for run, _ in runs} == dict(runs), cluster.diagnostics(
        run for run, expected in runs if states[run] != expected)
    assert not running.airflow.restarts, running.airflow.restarts  # no component died on the way



def add_source_documents(engine: sa.Engine, first_app_id: int, count: int) -> list[int]:
    """New Provenir documents in the demo's ``dbo.app_xml``: what a nightly run finds to stage."""
    table = sa.Table("app_xml", sa.MetaData(), schema="dbo", autoload_with=engine)
    rng = random.Random(first_app_id)
    ids = list(range(first_app_id, first_app_id + count))
    seed.load_source(engine, table, ((app_id, seed.as_text(generator.provenir_document(
        app_id, rng, target_bytes=2_000))) for app_id in ids))
    return ids


def test_the_ui_triggers_with_conf_lists_mapped_partitions_and_reruns_the_failed_one(served, tmp_path):
    """The runbook's UI steps, clicked in headless chromium (and its screenshots taken): the trigger form
    with ``workers`` 4, the run's mapped partitions with one failed, that one cleared with "Downstream" and
    "Clear only failed tasks", and the rerun stages exactly what was missing."""
    running, cluster = served
    ui = AirflowUi(cluster.base_url, running.login, screenshots_dir(tmp_path))
    engine = engine_from_url(running.demo_env.database("postgres", "appxml").url)
    try:
        new_ids = add_source_documents(engine, first_app_id=900_000, count=40)
        refused = next(app_id for app_id in new_ids if app_id % 4 == 1)
        ddl.ensure_staging_table(engine, TableName("dbo", "app_xml_staging"))  # when no run created it yet
        with staging_refuses(engine, refused):
            run_id = ui.trigger(STAGING_DAG, {"Workers (modulus)": 4}, "ui-trigger-form-appxml_staging")
            run = (STAGING_DAG, run_id)
            assert cluster.wait_for_runs([run]) == {run: "failed"}, cluster.diagnostics([run])
        assert cluster.api("GET", f"dags/{STAGING_DAG}/dagRuns/{run_id}")["conf"]["workers"] == 4

        listed = ui.mapped_instances(STAGING_DAG, run_id, "stage_partition", "ui-mapped-partitions")
        assert sorted(listed) == [("rem=0/4", "Success", 1), ("rem=1/4", "Failed", 1),
                                  ("rem=2/4", "Success", 1), ("rem=3/4", "Success", 1)]

        affected = ui.clear_failed(STAGING_DAG, run_id, "stage_partition", "rem=1/4", "ui-clear-failed-partition")
        assert sorted(affected) == [("stage_partition", 1), ("summary", -1)]
        assert cluster.wait_for_runs([run]) == {run: "success"}, cluster.diagnostics([run])
        tries = {(ti["task_id"], ti["map_index"]): ti["try_number"]
                 for ti in cluster.task_instances(STAGING_DAG, run_id)}
        # only rem=1 ran twice; the summary, upstream-failed before, ran once (after the rerun)
        assert tries == {**{key: 1 for key in tries}, ("stage_partition", 1): 2}, tries
        with engine.connect() as conn:
            staged = set(conn.execute(sa.text("SELECT app_id FROM dbo.app_xml_staging WHERE app_id >= :first"),
                                      {"first": new_ids[0]}).scalars())
        assert staged == set(new_ids)  # every new document staged once, the refused one by the rerun
    finally:
        engine.dispose()

def test_a_component_that_dies_is_restarted_and_named(served):
    running, cluster = served
    triggerer = running.airflow.processes["triggerer"]
    os.killpg(triggerer.pid, signal.SIGKILL)
    triggerer.wait(timeout=60)

    announced: list[str] = []
    assert running.airflow.restart_dead(announced.append) == ["triggerer"]  # what make airflow's loop calls

    assert announced == [f"!!! airflow triggerer EXITED with code -9; restarting it (restart #1, log: "
                         f"{running.airflow.log_path('triggerer')})"]
    assert running.airflow.processes["triggerer"].pid != triggerer.pid
    cluster.wait_until(running.airflow.is_healthy, 240, "Airflow healthy again after the restart")
    assert running.airflow.restarts == {"triggerer": 1}
