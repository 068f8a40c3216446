"""Ports of test/e2e/apps/cronjob.go (CronJob API operations) and job.go (Job status)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, is_not_found, poll
from conformance.ports.apps_common import MERGE, retry_on_conflict
from conformance.watching import Watch

BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.37.0-1"
FOREVER = 30  # wait.ForeverTestTimeout


def new_test_cronjob(name: str, schedule: str, policy: str, command: list[str] | None,
                     success_limit: int | None, failed_limit: int | None) -> client.V1CronJob:
    """upstream's newTestCronJob."""
    container = client.V1Container(name="c", image=BUSYBOX, command=command, volume_mounts=[
        client.V1VolumeMount(mount_path="/data", name="data")])
    return client.V1CronJob(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1CronJobSpec(
            schedule=schedule, concurrency_policy=policy,
            successful_jobs_history_limit=success_limit, failed_jobs_history_limit=failed_limit,
            job_template=client.V1JobTemplateSpec(spec=client.V1JobSpec(
                parallelism=1, completions=1, backoff_limit=1,
                template=client.V1PodTemplateSpec(spec=client.V1PodSpec(
                    restart_policy="OnFailure", containers=[container],
                    volumes=[client.V1Volume(name="data", empty_dir=client.V1EmptyDirVolumeSource())]))))))


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)  # RFC 3339: whole seconds


def _expect_finalizer(cj: Any, step: str) -> None:
    assert cj.metadata.deletion_timestamp is not None, f"expected deletionTimestamp on step {step!r}"
    assert cj.metadata.finalizers, f"expected finalizers on cronjob on step {step!r}"


@conformance("[sig-apps] CronJob should support CronJob API operations [Conformance]",
             basename="cronjob")
def cronjob_api(c: Ctx) -> None:
    b, ns = c.batch, c.ns
    sel = f"special-label={ns}"
    tmpl = new_test_cronjob("test-api", "* */1 * * ?", "Allow", ["/bin/true"], 1, 0)
    tmpl.metadata.labels = {"special-label": ns}
    created = b.create_namespaced_cron_job(ns, tmpl)
    assert b.read_namespaced_cron_job(created.metadata.name, ns).metadata.uid == created.metadata.uid
    cjs = b.list_namespaced_cron_job(ns, label_selector=sel)
    assert len(cjs.items) == 1, "filtered list should have 1 item"
    w = Watch(c.api, b.list_namespaced_cron_job, "V1CronJob", ns,
              resource_version=cjs.metadata.resource_version, label_selector=sel)
    try:
        assert len(b.list_cron_job_for_all_namespaces(label_selector=sel).items) == 1
        Watch(c.api, b.list_cron_job_for_all_namespaces, "V1CronJob",
              resource_version=cjs.metadata.resource_version, label_selector=sel).stop()
        patched = b.patch_namespaced_cron_job(created.metadata.name, ns, {
            "metadata": {"annotations": {"patched": "true"}}}, _content_type=MERGE)
        assert patched.metadata.annotations.get("patched") == "true"

        def update() -> Any:
            cj = b.read_namespaced_cron_job(created.metadata.name, ns)
            cj.metadata.annotations["updated"] = "true"
            return b.replace_namespaced_cron_job(created.metadata.name, ns, cj)
        assert retry_on_conflict(update).metadata.annotations.get("updated") == "true"
        while True:
            ev = w.next(FOREVER)
            assert ev is not None, "timed out waiting for watch event"
            assert ev[0] == "MODIFIED", f"expected a MODIFIED event, got {ev[0]}"
            if (ev[1].metadata.annotations or {}).get("patched") == "true":
                break
    finally:
        w.stop()
    _status_ops(c, created)
    tmpl.metadata.name = "for-removal"
    removal = b.create_namespaced_cron_job(ns, tmpl)
    b.delete_namespaced_cron_job(removal.metadata.name, ns)
    if not is_not_found(lambda: b.read_namespaced_cron_job(removal.metadata.name, ns)):
        _expect_finalizer(b.read_namespaced_cron_job(removal.metadata.name, ns), "deleting cronjob")
    b.delete_collection_namespaced_cron_job(ns, label_selector=sel)
    left = b.list_namespaced_cron_job(ns, label_selector=sel).items
    assert len(left) <= 2, f"filtered list length should be <= 2, got {len(left)}"
    for cj in left:
        _expect_finalizer(cj, "deleting cronjob collection")


def _status_ops(c: Ctx, created: Any) -> None:
    b, ns, name = c.batch, c.ns, created.metadata.name
    now1 = _now()
    patched = b.patch_namespaced_cron_job_status(name, ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"lastScheduleTime": now1.strftime("%Y-%m-%dT%H:%M:%SZ")}}, _content_type=MERGE)
    assert patched.status.last_schedule_time == now1, \
        f"patched lastScheduleTime {patched.status.last_schedule_time}, want {now1}"
    assert (patched.metadata.annotations or {}).get("patchedstatus") == "true", \
        "patched object should have the applied annotation"
    now2 = _now()

    def update() -> Any:
        cj = b.read_namespaced_cron_job(name, ns)
        cj.status.last_schedule_time = now2
        return b.replace_namespaced_cron_job_status(name, ns, cj)
    updated = retry_on_conflict(update)
    assert updated.status.last_schedule_time == now2, updated.status.last_schedule_time
    got = b.read_namespaced_cron_job_status(name, ns)
    assert got.metadata.uid == created.metadata.uid


JOB_TIMEOUT = 900  # e2ejob.JobTimeout


def new_test_job(behavior: str, name: str, restart: str, parallelism: int, completions: int,
                 backoff_limit: int) -> client.V1Job:
    """upstream's e2ejob.NewTestJob, for the behaviours ported so far."""
    commands = {"notTerminate": ["sleep", "1000000"], "succeed": ["exit", "0"]}
    container = client.V1Container(name="c", image=BUSYBOX, command=commands[behavior],
                                   volume_mounts=[client.V1VolumeMount(mount_path="/data", name="data")])
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            parallelism=parallelism, completions=completions, backoff_limit=backoff_limit,
            manual_selector=False,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"somekey": "somevalue"}),
                spec=client.V1PodSpec(restart_policy=restart, containers=[container], volumes=[
                    client.V1Volume(name="data", empty_dir=client.V1EmptyDirVolumeSource())]))))


def wait_job_pods_running(c: Ctx, name: str, count: int) -> None:
    def running() -> bool:
        pods = c.core.list_namespaced_pod(c.ns, label_selector=f"job-name={name}").items
        return sum(p.status.phase == "Running" for p in pods) == count
    poll(running, JOB_TIMEOUT, f"{count} running pods of job {name}", 1)


def _condition(conds: list[Any] | None, ctype: str) -> Any:
    return next((x for x in conds or [] if x.type == ctype), None)


@conformance("[sig-apps] Job should apply changes to a job status [Conformance]", basename="job")
def job_status(c: Ctx) -> None:
    b, ns = c.batch, c.ns
    job = b.create_namespaced_job(ns, new_test_job("notTerminate", "suspend-false-to-true",
                                                   "Never", 2, 4, 6))
    name = job.metadata.name
    wait_job_pods_running(c, name, 2)
    now1 = _now()
    patched = b.patch_namespaced_job_status(name, ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"conditions": [{"type": "CustomConditionType", "status": "True",
                                   "lastTransitionTime": now1.strftime("%Y-%m-%dT%H:%M:%SZ")}]}},
        _content_type=MERGE)
    cond = _condition(patched.status.conditions, "CustomConditionType")
    assert cond is not None, "patched object does not have the required condition"
    assert cond.last_transition_time == now1, cond.last_transition_time
    assert (patched.metadata.annotations or {}).get("patchedstatus") == "true", \
        "patched object should have the applied annotation"
    now2 = _now()

    def update() -> Any:
        cur = b.read_namespaced_job(name, ns)
        k = _condition(cur.status.conditions, "CustomConditionType")
        assert k is not None, "patched object does not have the required condition"
        k.last_transition_time = now2
        return b.replace_namespaced_job_status(name, ns, cur)
    updated = retry_on_conflict(update)
    k = _condition(updated.status.conditions, "CustomConditionType")
    assert k is not None and k.last_transition_time == now2, k
    assert b.read_namespaced_job_status(name, ns).metadata.uid == job.metadata.uid
