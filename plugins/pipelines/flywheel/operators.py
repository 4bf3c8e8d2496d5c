"""The Amazon provider's Glue operator and S3 sensor, bound to Flywheel steps.

``FlywheelGlueJobOperator`` is a ``GlueJobOperator`` (deferrable, verbose, stops its run when killed)
that takes its job name and arguments from the environment's configuration when the task runs, and
never starts a duplicate run: the run id goes to the task state store right after the start, and a
retry whose run is still running (worker crash, triggerer restart, wait budget exhausted) or has
already succeeded waits on that run instead of starting a new one. Only a run that ended without
success is replaced by a new one. The provider's own durable mode reattaches deferrable tasks only
by tagging every run with an extra ``--airflow_task_uuid`` argument and only to running runs; here
the jobs get exactly the runbook's arguments.

A bad environment Variable or run setting is found while the task's fields are rendered, before anything
reaches AWS, and fails the task at once: no retry can fix it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.hooks.glue import get_glue_log_group_names
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.providers.amazon.aws.triggers.glue import GlueJobCompleteTrigger
from airflow.sdk.exceptions import AirflowSkipException
from airflow.sdk.execution_time.context import NEVER_EXPIRE

from pipelines.common import lineage
from pipelines.common.alerts import task_failure_alert
from pipelines.common.errors import fail_without_retry
from pipelines.flywheel.config import current_config, load_settings
from pipelines.flywheel.errors import GlueJobRunFailed
from pipelines.flywheel.jobs import (
    SPLIT_SOURCES,
    glue_step,
    job_datasets,
    job_run_request,
    run_settings_from_context,
    snapshot_key_pattern,
    step_run_settings,
)

RUN_ID_KEY = "glue_job_run_id"
LOG_GROUP_KEY = "glue_log_group"
# Where Glue writes a run's driver errors unless the job configures another group.
DEFAULT_ERROR_LOG_GROUP = "/aws-glue/jobs/error"


class FlywheelGlueJobOperator(GlueJobOperator):
    """Runs the Glue job of one Flywheel step (see ``pipelines.flywheel.jobs.STEPS``)."""

    def __init__(self, *, step: str, **kwargs: Any) -> None:
        glue_step(step)  # an unknown step fails the DAG import, not the run
        shared = load_settings()
        kwargs.setdefault("task_id", step)
        kwargs.setdefault("aws_conn_id", shared.aws_conn_id)
        super().__init__(
            job_name=f"<{step}: resolved from flywheel.yaml at run time>",
            script_args={},
            wait_for_completion=True,
            deferrable=True,
            verbose=True,
            stop_job_run_on_kill=True,
            # Reattaching is done here through the task state store (see module doc); the provider's
            # durable mode would add an --airflow_task_uuid argument to every run.
            durable=False,
            waiter_delay=shared.glue_wait.poll_seconds,
            waiter_max_attempts=shared.glue_wait.max_poll_attempts,
            **kwargs,
        )
        self.step = step

    @fail_without_retry
    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        # Resolved here rather than in execute() so the UI's rendered fields show the real job and args.
        self.job_name, self.script_args = job_run_request(current_config(), self.step,
                                                          step_run_settings(self.step, context))
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Any) -> str | None:
        store = context.get("task_state_store")
        run_id, succeeded = self._previous_run(context, store)
        if run_id is not None and succeeded:
            return self._finish(store, run_id)
        if run_id is None:
            run_id = self.submit_job(context)
            if store is not None:
                store.set(RUN_ID_KEY, run_id, retention=NEVER_EXPIRE)
            self.log.info("Started Glue job %s run %s", self.job_name, run_id)
        self.defer(trigger=self._completion_trigger(run_id), method_name="execute_complete")

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The S3 prefixes and Glue tables this run's job read and wrote, from its arguments (OpenLineage)."""
        return lineage.operator_lineage(*job_datasets(current_config(), self.script_args))

    def _completion_trigger(self, run_id: str) -> GlueJobCompleteTrigger:
        return GlueJobCompleteTrigger(
            job_name=self.job_name,
            run_id=run_id,
            verbose=self.verbose,
            aws_conn_id=self.aws_conn_id,
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )

    def _previous_run(self, context: Any, store: Any) -> tuple[str | None, bool]:
        """(run id to wait on, whether it already succeeded); (None, False) when a new run is needed."""
        stored = store.get(RUN_ID_KEY) if store is not None else None
        if not stored:
            return None, False
        status = self.get_job_status(stored, context)
        if self.is_job_succeeded(status):
            self.log.info("Glue job %s run %s already SUCCEEDED; not starting another", self.job_name, stored)
            return stored, True
        if self.is_job_active(status):
            self.log.info("Reattaching to Glue job %s run %s (%s)", self.job_name, stored, status)
            return stored, False
        self.log.warning("Glue job %s run %s ended %s; starting a new run", self.job_name, stored, status)
        return None, False

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> str:
        store = context.get("task_state_store")
        event = event or {}
        run_id = event.get("run_id") or (store.get(RUN_ID_KEY) if store is not None else None)
        if event.get("status") != "success" or not run_id:
            raise GlueJobRunFailed(self._failure_line(store, run_id))
        return self._finish(store, run_id)

    def _finish(self, store: Any, run_id: str) -> str:
        # Forget the run once the task succeeds: clearing a succeeded task later must run the job again.
        if store is not None:
            store.delete(RUN_ID_KEY)
        return run_id

    def _failure_line(self, store: Any, run_id: str | None) -> str:
        """One line for the log and the alert: job, run and final state, never Glue's error text (it can
        quote data). Also remembers the run's CloudWatch log group for the alert."""
        if not run_id:
            return f"Glue job {self.job_name}: no run id in the trigger event"
        state = "unknown"
        try:
            job_run = self.hook.conn.get_job_run(JobName=self.job_name, RunId=run_id)["JobRun"]
            state = job_run.get("JobRunState", state)
            if store is not None and job_run.get("LogGroupName"):
                store.set(LOG_GROUP_KEY, get_glue_log_group_names(job_run)[1])
        except Exception as exc:  # the failure is reported either way
            self.log.warning("Could not read Glue job run %s: %s", run_id, type(exc).__name__)
        if state in ("STARTING", "RUNNING", "WAITING", "STOPPING"):
            return f"Glue job {self.job_name} run {run_id} still {state} when the wait ended; a retry reattaches"
        return f"Glue job {self.job_name} run {run_id} ended {state}"


def glue_alert_details(context: Mapping[str, Any]) -> dict[str, str]:
    """Extra facts for the Slack alert of a Glue step: job name, run id, CloudWatch log group."""
    task = context.get("task")
    if not isinstance(task, GlueJobOperator):
        return {}
    store = context.get("task_state_store")
    run_id = store.get(RUN_ID_KEY) if store is not None else None
    log_group = store.get(LOG_GROUP_KEY) if store is not None else None
    return {
        "Glue job": task.job_name,
        "Glue run id": run_id or "none started",
        "CloudWatch log group": log_group or DEFAULT_ERROR_LOG_GROUP,
    }


#: Task ``on_failure_callback`` of every Flywheel task: the Slack alert, with the Glue facts when any.
flywheel_failure_alert = task_failure_alert(details=glue_alert_details)


class SnapshotPrefixSensor(S3KeySensor):
    """Waits (deferrable) until the source of a split has a ``snapshot_dt=YYYY-MM-DD/`` folder.

    Skipped when the run has no snapshot date (``_NONE_``): the Glue job then discovers the latest."""

    def __init__(self, *, split_step: str, **kwargs: Any) -> None:
        self.source = SPLIT_SOURCES[split_step]
        shared = load_settings()
        kwargs.setdefault("task_id", f"wait_for_{split_step}_snapshot")
        kwargs.setdefault("aws_conn_id", shared.aws_conn_id)
        kwargs.setdefault("poke_interval", shared.snapshot_wait.poke_seconds)
        kwargs.setdefault("timeout", shared.snapshot_wait.timeout_seconds)
        super().__init__(bucket_key=f"<{self.source}: resolved at run time>", wildcard_match=True,
                         deferrable=True, **kwargs)
        self.split_step = split_step
        self.snapshot_dt: str | None = None

    @fail_without_retry
    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        run = run_settings_from_context(context)
        self.snapshot_dt = run.snapshot_dt if run.has_snapshot_date else None
        if self.snapshot_dt:
            self.bucket_key = snapshot_key_pattern(current_config(), self.source, self.snapshot_dt)
        super().render_template_fields(context, jinja_env)

    def execute(self, context: Any) -> None:
        if not self.snapshot_dt:
            raise AirflowSkipException("snapshot_dt is _NONE_: the Glue job discovers the latest snapshot itself")
        self.log.info("Waiting for %s", self.bucket_key)
        super().execute(context)


def flywheel_dag_defaults(*, tags: list[str], **overrides: Any) -> dict[str, Any]:
    """``dag_defaults`` with the Glue-aware Slack alert on every task."""
    from pipelines.common.deadlines import run_limits
    from pipelines.common.defaults import dag_defaults, default_args

    return dag_defaults(tags=["flywheel", *tags],
                        default_args=default_args(on_failure_callback=flywheel_failure_alert),
                        **{**run_limits("flywheel"), **overrides})
