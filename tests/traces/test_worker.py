"""Jobs through real Celery workers on the Redis server, with PostgreSQL, as in production."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from traces import jobs, lifecycle
from traces.modeling.checkpoints import is_complete
from traces.models import Job
from tracestudy.celery import app

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def broker():
    """The Redis broker, its gpu queue emptied of anything an earlier run left behind."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL (CI does)")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete("gpu", "unacked", "unacked_index", "unacked_mutex")
    yield client
    client.delete("gpu", "unacked", "unacked_index", "unacked_mutex")


def _stop(*workers) -> None:
    """Terminate the workers a test started that are still running."""
    for worker in workers:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            worker.wait(timeout=30)


def _wait_for(job: Job, condition, timeout_s: float) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if condition(job):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job #{job.pk} still {job.status} at {job.progress_done}/{job.progress_total}")


def test_each_kind_of_job_runs_on_a_gpu_queue_worker_as_an_admin_sees_it(
    broker, checkpoint, equal_problems, admin_client, settings, tmp_path
):
    settings.CHECKPOINT_DIR = tmp_path
    with start_worker(app, pool="solo", queues=["gpu"], perform_ping_check=False, shutdown_timeout=60):
        tune = jobs.launch(Job.Kind.FINETUNE, checkpoint, equal_problems[:40], "decomposition_correct",
                           {"max_steps": 6, "batch_size": 4, "learning_rate": 3e-3, "split": ""})
        tune = _wait_for(tune, lambda j: j.is_finished, timeout_s=180)
        assert tune.status == Job.Status.SUCCEEDED, tune.error
        trained = tune.checkpoints_made.get()
        unseen = equal_problems[40:44]
        generate = jobs.launch(Job.Kind.GENERATE, trained, unseen, "decomposition_correct",
                               {"max_new_tokens": 16, "batch_size": 2, "split": ""})
        evaluate = jobs.launch(Job.Kind.EVALUATE, trained, unseen, "decomposition_correct",
                               {"max_new_tokens": 16, "batch_size": 2, "split": ""})
        evaluate = _wait_for(evaluate, lambda j: j.is_finished, timeout_s=120)
        generate.refresh_from_db()
    losses = tune.metrics["losses"]
    assert len(losses) == 6 and sum(losses[-2:]) < sum(losses[:2]), f"loss did not go down: {losses}"
    for job in (generate, evaluate):
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.evaluation.outputs.count() == 4 and job.evaluation.model_name == trained.name
        page = admin_client.get(reverse("admin:traces_job_change", args=[job.pk])).content.decode()
        assert "4 / 4" in page and "Succeeded" in page
    assert evaluate.metrics["overall"]["n"] == 4
    listing = admin_client.get(reverse("admin:traces_job_changelist")).content.decode()
    assert listing.count("Succeeded") >= 3


def test_trace_jobs_on_an_endpoint_run_on_the_gpu_queue_worker(broker, equal_problems, admin_client):
    from traces.models import Endpoint, ReferenceTrace

    from .chat_servers import ReasonerAPI

    api = ReasonerAPI(fail_first=1, fail_status=500)
    endpoint = Endpoint.objects.create(name="r1", base_url=api.base_url, model="deepseek-reasoner")
    problems = equal_problems[:4]
    try:
        with start_worker(app, pool="solo", queues=["gpu"], perform_ping_check=False, shutdown_timeout=60):
            short = {"max_new_tokens": 32}
            reasoning = jobs.launch(Job.Kind.REASONING, None, problems, "", short, endpoint=endpoint)
            reasoning = _wait_for(reasoning, lambda j: j.is_finished, timeout_s=60)
            summary = jobs.launch(Job.Kind.SUMMARY, None, problems, "", short, endpoint=endpoint)
            summary = _wait_for(summary, lambda j: j.is_finished, timeout_s=60)
    finally:
        api.close()
    for job in (reasoning, summary):
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert (job.progress_done, job.progress_total) == (4, 4)
        page = admin_client.get(reverse("admin:traces_job_change", args=[job.pk])).content.decode()
        assert "4 / 4" in page and "Succeeded" in page
    summaries = ReferenceTrace.objects.filter(job=summary)
    assert summaries.count() == 4
    assert {s.based_on.job_id for s in summaries} == {reasoning.pk}


def _worker(visibility_timeout_s: int, **extra: str) -> subprocess.Popen:
    """A real worker process on the gpu queue; its heartbeat every half second."""
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_VISIBILITY_TIMEOUT_S": str(visibility_timeout_s),
        "JOB_HEARTBEAT_S": "0.5",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tracestudy", "worker", "-Q", "gpu", "--pool=solo",
         "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def test_a_killed_worker_loses_at_most_the_batch_in_flight_and_the_job_resumes(
    broker, checkpoint, equal_problems
):
    first = _worker(visibility_timeout_s=2)
    second = None
    try:
        job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:24], "vanilla",
                          {"max_new_tokens": 48, "batch_size": 1, "split": ""})
        job = _wait_for(job, lambda j: j.progress_done >= 3 or j.is_finished, timeout_s=120)
        assert not job.is_finished, job.error
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        job.refresh_from_db()
        assert job.status == Job.Status.RUNNING and job.progress_done < 24, "killed too late to test"
        stored_before = {t.problem_id: t.raw_text for t in job.evaluation.outputs.all()}

        # Redis hands the unacknowledged job to the next worker once its visibility timeout passes; the
        # worker takes it over once the dead one has been silent for JOB_LOST_AFTER_S (a live one
        # keeps it: one worker per job).
        _wait_for(job, lambda j: j.heartbeat_at < timezone.now() - timedelta(seconds=3), timeout_s=30)
        second = _worker(visibility_timeout_s=2, JOB_LOST_AFTER_S="3")
        job = _wait_for(job, lambda j: j.is_finished, timeout_s=180)
    finally:
        _stop(first, second)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.attempts == 2
    outputs = job.evaluation.outputs
    assert outputs.count() == 24 == outputs.values("problem").distinct().count()
    assert job.progress_done == 24
    kept = {t.problem_id: t.raw_text for t in outputs.filter(problem_id__in=stored_before)}
    assert kept == stored_before, "traces committed before the kill were kept as they were"
    assert "Resuming:" in job.log


def test_a_fine_tune_killed_with_its_worker_is_found_lost_and_resumes_from_its_checkpoint(
    broker, checkpoint, equal_problems, settings, tmp_path
):
    """SIGKILL of the worker process in the middle of training: no redelivery (the visibility timeout
    is an hour), so the reaper marks the job lost; an admin re-runs it and it goes on from the last
    checkpoint, not from step 0."""
    settings.CHECKPOINT_DIR = tmp_path
    settings.JOB_LOST_AFTER_S = 2
    first = _worker(visibility_timeout_s=3600, CHECKPOINT_DIR=str(tmp_path))
    second = None
    try:
        job = jobs.launch(Job.Kind.FINETUNE, checkpoint, equal_problems[:40], "decomposition_correct",
                          {"max_steps": 400, "save_steps": 10, "batch_size": 4, "split": ""})
        job = _wait_for(job, lambda j: j.progress_done >= 25 or j.is_finished, timeout_s=180)
        assert not job.is_finished, job.error
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        assert lifecycle.reap()["lost"] == []  # its heartbeat is still recent
        time.sleep(2.5)
        assert lifecycle.reap()["lost"] == [job.pk]
        job.refresh_from_db()
        assert job.status == Job.Status.LOST and "Lost: no heartbeat" in job.log
        trainer_dir = tmp_path / f"job-{job.pk}" / "trainer"
        saved = sorted(int(p.name.split("-")[1]) for p in trainer_dir.glob("checkpoint-*"))
        assert saved and saved[-1] >= 20

        jobs.rerun(job)
        second = _worker(visibility_timeout_s=3600, CHECKPOINT_DIR=str(tmp_path))
        job = _wait_for(job, lambda j: j.is_finished, timeout_s=300)
    finally:
        _stop(first, second)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.attempts == 2 and f"Resumed from its checkpoint at step {saved[-1]}" in job.log
    assert len(job.metrics["losses"]) == 400 and job.metrics["resumed_from"] == saved[-1]
    trained = job.checkpoints_made.get()
    assert trained.is_adapter


def _step(checkpoint: Path) -> int:
    return int(checkpoint.name.split("-")[1])


def _being_written(trainer_dir: Path) -> Path | None:
    """The newest checkpoint while it is still being written, when a complete one precedes it."""
    found = sorted(trainer_dir.glob("checkpoint-*"), key=_step)
    if len(found) >= 2 and not is_complete(found[-1]) and any(map(is_complete, found[:-1])):
        return found[-1]
    return None


def _stopped(process: subprocess.Popen) -> bool:
    """Whether every thread of the process has stopped (SIGSTOP takes effect thread by thread)."""
    threads = Path(f"/proc/{process.pid}/task").glob("*/stat")
    return all(stat.read_text().rsplit(")", 1)[1].split()[0] in ("T", "t") for stat in threads)


def _freeze_while_writing(worker: subprocess.Popen, trainer_dir: Path, timeout_s: float) -> Path:
    """Stop the worker (SIGSTOP) at a moment when it is writing a checkpoint, and return that checkpoint.
    Whether the write is still unfinished is looked at once the worker is frozen: if it finished in
    between, the worker goes on (SIGCONT) and the next checkpoint is tried."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _being_written(trainer_dir):
            worker.send_signal(signal.SIGSTOP)
            while not _stopped(worker):
                time.sleep(0.001)
            caught = _being_written(trainer_dir)
            if caught:
                return caught
            worker.send_signal(signal.SIGCONT)
        time.sleep(0.001)
    raise AssertionError(f"never found the worker writing a checkpoint in {trainer_dir}")


def test_a_worker_killed_while_writing_a_checkpoint_leaves_a_job_that_resumes_from_the_last_complete_one(
    broker, checkpoint, equal_problems, settings, tmp_path
):
    """SIGKILL while a checkpoint is half-written: the re-run sets it aside (in its log), resumes from the
    newest complete checkpoint, and finishes; the trainer alone would have picked the partial one and
    failed on it at every re-run."""
    settings.CHECKPOINT_DIR = tmp_path
    settings.JOB_LOST_AFTER_S = 2
    first = _worker(visibility_timeout_s=3600, CHECKPOINT_DIR=str(tmp_path))
    second = None
    try:
        job = jobs.launch(Job.Kind.FINETUNE, checkpoint, equal_problems[:40], "decomposition_correct",
                          {"max_steps": 60, "save_steps": 2, "batch_size": 4, "split": ""})
        trainer_dir = tmp_path / f"job-{job.pk}" / "trainer"
        partial = _freeze_while_writing(first, trainer_dir, timeout_s=180)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        complete = [_step(c) for c in trainer_dir.glob("checkpoint-*") if is_complete(c)]
        assert not is_complete(partial) and max(complete) < _step(partial)
        time.sleep(2.5)
        assert lifecycle.reap()["lost"] == [job.pk]

        jobs.rerun(job)
        second = _worker(visibility_timeout_s=3600, CHECKPOINT_DIR=str(tmp_path))
        job = _wait_for(job, lambda j: j.is_finished, timeout_s=300)
    finally:
        _stop(first, second)
    assert job.status == Job.Status.SUCCEEDED, job.error
    resumable = max(complete)
    assert f"{partial.name} was not completely written" in job.log
    assert f"set aside as incomplete-{partial.name}; training resumes from checkpoint-{resumable}" in job.log
    assert f"Resumed from its checkpoint at step {resumable}" in job.log
    assert job.metrics["resumed_from"] == resumable and len(job.metrics["losses"]) == 60
    assert (trainer_dir / f"incomplete-{partial.name}").is_dir()
    assert all(map(is_complete, trainer_dir.glob("checkpoint-*")))


def test_a_queued_job_whose_message_was_lost_is_sent_again(broker, checkpoint, equal_problems, settings):
    """Redis restarted without persistence: the queue is empty but the job says queued. The reaper
    sends it again (and leaves alone a queued job whose message is still there)."""
    settings.JOB_REQUEUE_AFTER_S = 0
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:2], "vanilla",
                      {"max_new_tokens": 8, "batch_size": 2, "split": ""})
    assert broker.llen("gpu") == 1
    assert lifecycle.reap()["requeued"] == []  # its message is there
    broker.delete("gpu")
    assert lifecycle.reap()["requeued"] == [job.pk]
    assert broker.llen("gpu") == 1
    job.refresh_from_db()
    assert "sent again" in job.log
    with start_worker(app, pool="solo", queues=["gpu"], perform_ping_check=False, shutdown_timeout=60):
        job = _wait_for(job, lambda j: j.is_finished, timeout_s=120)
    assert job.status == Job.Status.SUCCEEDED, job.error



def test_a_queued_job_never_sent_is_sent_by_the_reaper_and_runs(broker, checkpoint, equal_problems, settings):
    """The process that launched it stopped after the commit and before its send: the job says queued,
    no queue holds it, and it was never sent (no queued_at). The reaper sends it once it is
    JOB_REQUEUE_AFTER_S old, not twice, and a worker runs it."""
    settings.JOB_REQUEUE_AFTER_S = 60
    problems = equal_problems[:2]
    job = jobs.check_launch(Job.Kind.GENERATE, checkpoint, problems, "vanilla",
                            jobs.clean_parameters(Job.Kind.GENERATE, {"max_new_tokens": 8, "split": ""}))
    job.save()  # stored as launch stores it; the send after the commit never happens
    job.problems.set(problems)
    assert broker.llen("gpu") == 0 and job.queued_at is None
    assert lifecycle.reap()["requeued"] == []  # just made: its launch may still send it
    assert lifecycle.reap(timezone.now() + timedelta(seconds=61))["requeued"] == [job.pk]
    assert broker.llen("gpu") == 1 and lifecycle.queued_job_ids() == {job.pk}
    job.refresh_from_db()
    assert job.queued_at is not None and "had never been sent to the queue" in job.log
    Job.objects.filter(pk=job.pk).update(queued_at=None)  # sent, but the launch stopped before noting it
    assert lifecycle.reap(timezone.now() + timedelta(seconds=61))["requeued"] == []  # Redis holds it
    assert broker.llen("gpu") == 1
    with start_worker(app, pool="solo", queues=["gpu"], perform_ping_check=False, shutdown_timeout=60):
        job = _wait_for(job, lambda j: j.is_finished, timeout_s=120)
    assert job.status == Job.Status.SUCCEEDED, job.error
