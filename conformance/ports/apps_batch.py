"""Ports of test/e2e/apps/cronjob.go (CronJob API operations) and job.go (Job status)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, is_not_found, poll, rand_suffix
from conformance.images import build as images
from conformance.ports.apps_common import MERGE, retry_on_conflict
from conformance.watching import Watch, until

BUSYBOX = images.BUSYBOX
FOREVER = 30  # wait.ForeverTestTimeout


def new_test_cronjob(name: str, schedule: str, policy: str, command: list[str] | None,
                     success_limit: int | None, failed_limit: int | None) -> client.V1CronJob:
    """upstream's newTestCronJob."""
    container = client.V1Container(name="c", image=BUSYBOX, command=command, volume_mounts=[
        client.V1VolumeMount(mount_path="/data", name="data")])
    # kapi's simulated nodes run no command: `sleep N` is told to them as an annotation
    annotations = ({"sim.kapi.dev/complete-after": command[1]}
                   if command and command[0] == "sleep" else None)
    return client.V1CronJob(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1CronJobSpec(
            schedule=schedule, concurrency_policy=policy,
            successful_jobs_history_limit=success_limit, failed_jobs_history_limit=failed_limit,
            job_template=client.V1JobTemplateSpec(spec=client.V1JobSpec(
                parallelism=1, completions=1, backoff_limit=1,
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(annotations=annotations),
                    spec=client.V1PodSpec(
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
    commands = {"notTerminate": ["sleep", "1000000"], "succeed": ["exit", "0"],
                "failOnce": ["/bin/sh", "-c",
                             "if [[ -r /data/foo ]] ; then exit 0 ; else touch /data/foo ; "
                             "exit 1 ; fi"]}
    container = client.V1Container(name="c", image=BUSYBOX, command=commands[behavior],
                                   volume_mounts=[client.V1VolumeMount(mount_path="/data", name="data")])
    # kapi's simulated nodes run no command: this annotation tells them the container never
    # exits, as the command says (other clusters ignore it)
    annotations = {"sim.kapi.dev/complete-after": "1000000"} if behavior == "notTerminate" else None
    return client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(
            parallelism=parallelism, completions=completions, backoff_limit=backoff_limit,
            manual_selector=False,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"somekey": "somevalue"},
                                             annotations=annotations),
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


def wait_job_complete(c: Ctx, name: str, completions: int) -> None:
    """e2ejob.WaitForJobComplete: status.succeeded reaches `completions`."""
    poll(lambda: c.batch.read_namespaced_job(name, c.ns).status.succeeded == completions,
         JOB_TIMEOUT, f"job {name} to reach {completions} completions", 1)


def job_pods(c: Ctx, name: str) -> list[Any]:
    return list(c.core.list_namespaced_pod(c.ns, label_selector=f"job-name={name}").items)


def delete_job_and_wait_for_gc(c: Ctx, name: str) -> None:
    """DeleteResourceAndWaitForGC: delete in the background, then wait for its pods."""
    c.batch.delete_namespaced_job(name, c.ns, propagation_policy="Background")
    poll(lambda: not job_pods(c, name), JOB_TIMEOUT, f"pods of job {name} gone", 1)


@conformance("[sig-apps] Job should create pods for an Indexed job with completion indexes and "
             "specified hostname [Conformance]", basename="job")
def indexed_job(c: Ctx) -> None:
    job = new_test_job("succeed", "indexed-job", "Never", 2, 4, 6)
    job.spec.completion_mode = "Indexed"
    job = c.batch.create_namespaced_job(c.ns, job)
    wait_job_complete(c, job.metadata.name, 4)
    indexes = set()
    for p in job_pods(c, job.metadata.name):
        if p.status.phase == "Succeeded" and p.metadata.annotations:
            ix = int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"])
            indexes.add(ix)
            want = f"{job.metadata.name}-{ix}"
            assert p.spec.hostname == want, \
                f"expected completed pod with hostname {want}, but got {p.spec.hostname}"
    assert sorted(indexes) == [0, 1, 2, 3], f"expected completed indexes [0, 1, 2, 3], but got {sorted(indexes)}"


@conformance("[sig-apps] Job should run a job to completion when tasks sometimes fail and are "
             "locally restarted [Conformance]", basename="job")
def fail_once_local(c: Ctx) -> None:
    job = c.batch.create_namespaced_job(c.ns, new_test_job("failOnce", "fail-once-local",
                                                           "OnFailure", 2, 4, 6))
    wait_job_complete(c, job.metadata.name, 4)


@conformance("[sig-apps] Job should delete a job [Conformance]", basename="job")
def delete_job(c: Ctx) -> None:
    job = c.batch.create_namespaced_job(c.ns, new_test_job("notTerminate", "foo", "Never", 2, 4, 6))
    wait_job_pods_running(c, job.metadata.name, 2)
    delete_job_and_wait_for_gc(c, job.metadata.name)
    assert is_not_found(lambda: c.batch.read_namespaced_job(job.metadata.name, c.ns)), \
        f"failed to ensure job {job.metadata.name} was deleted"


def _controller_of(pod: Any) -> Any:
    return next((o for o in pod.metadata.owner_references or [] if o.controller), None)


@conformance("[sig-apps] Job should adopt matching orphans and release non-matching pods "
             "[Conformance]", basename="job")
def adopt_release(c: Ctx) -> None:
    job = c.batch.create_namespaced_job(c.ns, new_test_job("notTerminate", "adopt-release",
                                                           "Never", 2, 4, 6))
    name = job.metadata.name
    wait_job_pods_running(c, name, 2)
    pods = job_pods(c, name)
    assert len(pods) == 2, f"{len(pods)} pods, want 2"
    pod = pods[0].metadata.name

    def orphan() -> Any:
        p = c.core.read_namespaced_pod(pod, c.ns)
        p.metadata.owner_references = None
        return c.core.replace_namespaced_pod(pod, c.ns, p)
    retry_on_conflict(orphan)

    def adopted() -> bool:
        ref = _controller_of(c.core.read_namespaced_pod(pod, c.ns))
        if ref is None:
            return False
        assert (ref.kind, ref.name, ref.uid) == ("Job", name, job.metadata.uid), \
            f"pod has wrong controllerRef: got {ref}"
        return True
    poll(adopted, JOB_TIMEOUT, f"pod {pod} readopted", 1)

    def unlabel() -> Any:
        p = c.core.read_namespaced_pod(pod, c.ns)
        p.metadata.labels = None
        return c.core.replace_namespaced_pod(pod, c.ns, p)
    retry_on_conflict(unlabel)
    poll(lambda: _controller_of(c.core.read_namespaced_pod(pod, c.ns)) is None, JOB_TIMEOUT,
         f"pod {pod} released", 1)


def _job_event(c: Ctx, rv: str, name: str, etype: str, where: str, key: str, value: str) -> None:
    """waitForJobEvent: watch for the event; as upstream, a missed event is logged, not
    failed (delivery of events is not guaranteed there)."""
    def found(t: str, j: Any) -> bool:
        meta = j.metadata
        got = (meta.annotations if where == "annotation" else meta.labels) or {}
        return t == etype and meta.name == name and meta.namespace == c.ns and \
            got.get(key) == value
    try:
        until(c.api, c.batch.list_namespaced_job, "V1Job", rv, found, 60,
              f"{etype} of job {name}", c.ns, label_selector=f"e2e-job-label={name}")
    except AssertionError as e:
        c.log(f"We missed the {etype} event: {e}")


@conformance("[sig-apps] Job should manage the lifecycle of a job [Conformance]", basename="job")
def job_lifecycle(c: Ctx) -> None:
    b, ns = c.batch, c.ns
    name = "e2e-" + rand_suffix()
    selector = f"e2e-job-label={name}"
    rv = b.list_namespaced_job(ns, label_selector=selector).metadata.resource_version
    job = new_test_job("succeed", name, "Never", 2, 4, 6)
    job.metadata.labels = {"e2e-job-label": name}
    job.spec.suspend = True
    b.create_namespaced_job(ns, job)
    patched = b.patch_namespaced_job(name, ns, {"metadata": {"labels": {name: "patched"}}})
    _job_event(c, rv, name, "MODIFIED", "label", name, "patched")
    assert patched.metadata.labels.get(name) == "patched", \
        f"Did not find job label for this job. Current labels: {patched.metadata.labels}"

    def update() -> Any:
        cur = b.read_namespaced_job(name, ns)
        cur.spec.suspend = False
        cur.metadata.annotations = {**(cur.metadata.annotations or {}), "updated": "true"}
        return b.replace_namespaced_job(name, ns, cur)
    updated = retry_on_conflict(update)
    _job_event(c, patched.metadata.resource_version, name, "MODIFIED", "annotation",
               "updated", "true")
    assert updated.metadata.annotations.get("updated") == "true", \
        "updated Job should have the applied annotation"
    jobs = b.list_job_for_all_namespaces(label_selector=selector).items
    assert len(jobs) == 1, f"Failed to find job {name}"
    wait_job_complete(c, name, 4)
    b.delete_collection_namespaced_job(ns, label_selector=selector,
                                       propagation_policy="Background")
    _job_event(c, updated.metadata.resource_version, name, "DELETED", "label", "e2e-job-label",
               name)
    left = b.list_job_for_all_namespaces(label_selector=selector).items
    assert len(left) == 0, f"Found job {name}"


# -- cronjob.go: the scheduling tests ------------------------------------------------------
CRONJOB_TIMEOUT = 300  # cronJobTimeout
SLEEP = ["sleep", "300"]
CJ = "[sig-apps] CronJob "


def _active(c: Ctx, name: str) -> list[Any]:
    return list(c.batch.read_namespaced_cron_job(name, c.ns).status.active or [])


def _finished(job: Any) -> bool:
    return any(x.type in ("Complete", "Failed") and x.status == "True"
               for x in job.status.conditions or [])


def active_jobs(c: Ctx) -> list[Any]:
    """filterActiveJobs: the namespace's jobs that have not finished."""
    return [j for j in c.batch.list_namespaced_job(c.ns).items if not _finished(j)]


def wait_active(c: Ctx, name: str, count: int) -> None:
    """waitForActiveJobs: the CronJob lists at least `count` active jobs."""
    poll(lambda: len(_active(c, name)) >= count, CRONJOB_TIMEOUT,
         f"{count} active jobs of cronjob {name}", 2)


def delete_cronjob(c: Ctx, name: str) -> None:
    c.batch.delete_namespaced_cron_job(name, c.ns, propagation_policy="Background")


@conformance(CJ + "should schedule multiple jobs concurrently [Conformance]", basename="cronjob")
def concurrent(c: Ctx) -> None:
    cj = c.batch.create_namespaced_cron_job(c.ns, new_test_cronjob(
        "concurrent", "*/1 * * * ?", "Allow", SLEEP, None, None))
    wait_active(c, cj.metadata.name, 2)
    assert len(active_jobs(c)) >= 2, "fewer than two running jobs listed"
    delete_cronjob(c, cj.metadata.name)


def _one_active(c: Ctx, base: str, policy: str) -> str:
    """A every-minute CronJob with concurrencyPolicy `policy` once it has exactly one
    active (and running) job; its name."""
    cj = c.batch.create_namespaced_cron_job(c.ns, new_test_cronjob(
        base, "*/1 * * * ?", policy, SLEEP, None, None))
    name = str(cj.metadata.name)
    wait_active(c, name, 1)
    assert len(_active(c, name)) == 1, "not exactly one active job"
    assert len(active_jobs(c)) == 1, "not exactly one running job listed"
    return name


@conformance(CJ + "should replace jobs when ReplaceConcurrent [Conformance]", basename="cronjob")
def replace_concurrent(c: Ctx) -> None:
    name = _one_active(c, "replace", "Replace")
    jobs = c.batch.list_namespaced_job(c.ns).items
    previous = jobs[0].metadata.name

    def replaced() -> bool:
        alive = [j for j in c.batch.list_namespaced_job(c.ns).items
                 if j.metadata.deletion_timestamp is None]
        assert len(alive) <= 1, f"more than one job is running: {[j.metadata.name for j in alive]}"
        return bool(alive) and alive[0].metadata.name != previous
    poll(replaced, CRONJOB_TIMEOUT, f"job {previous} replaced by a newer one", 2)
    delete_cronjob(c, name)


@conformance(CJ + "should not schedule jobs when suspended [Slow] [Conformance]",
             basename="cronjob")
def suspended(c: Ctx) -> None:
    body = new_test_cronjob("suspended", "*/1 * * * ?", "Allow", SLEEP, None, None)
    body.spec.suspend = True
    cj = c.batch.create_namespaced_cron_job(c.ns, body)
    deadline = time.monotonic() + CRONJOB_TIMEOUT  # gomega.Consistently
    while time.monotonic() < deadline:
        assert not _active(c, cj.metadata.name), "a suspended cronjob has active jobs"
        time.sleep(2)
    assert not c.batch.list_namespaced_job(c.ns).items, "a suspended cronjob made jobs"
    delete_cronjob(c, cj.metadata.name)


@conformance(CJ + "should not schedule new jobs when ForbidConcurrent [Slow] [Conformance]",
             basename="cronjob")
def forbid_concurrent(c: Ctx) -> None:
    name = _one_active(c, "forbid", "Forbid")
    deadline = time.monotonic() + CRONJOB_TIMEOUT  # Eventually(len(active) < 2): at once
    while True:
        n = len(_active(c, name))
        if n < 2:
            break
        assert time.monotonic() < deadline, f"unexpected active job number: {n}"
        time.sleep(2)
    delete_cronjob(c, name)
