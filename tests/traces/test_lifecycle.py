"""Jobs that outlive their workers, without a worker: the queue down, heartbeats, the reaper, and one
worker per job. (The real worker, killed, is in test_worker.py.)"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from celery import current_app
from django.urls import reverse
from django.utils import timezone

from tests.conftest import queued_messages
from traces import jobs, lifecycle, runners
from traces.models import Job

FAST = {"max_new_tokens": 8, "batch_size": 4, "split": ""}


DOWN = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once


def point_the_queue_at_nothing(monkeypatch) -> None:
    """Celery reads CELERY_BROKER_URL from the environment before its settings (CI sets it)."""
    monkeypatch.setenv("CELERY_BROKER_URL", DOWN)
    monkeypatch.setitem(current_app.conf, "broker_url", DOWN)


@pytest.fixture
def broker_down(monkeypatch):
    point_the_queue_at_nothing(monkeypatch)


@pytest.mark.django_db
def test_launching_with_the_queue_down_says_so_and_stores_nothing(broker_down, checkpoint, equal_problems):
    message = r"Not launched: the job queue \(redis://127\.0\.0\.1:1/0\) cannot be reached"
    with pytest.raises(jobs.JobError, match=message):
        jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:2], "vanilla", FAST)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_admin_says_the_queue_is_down_on_the_form(broker_down, admin_client, checkpoint, equal_problems):
    response = admin_client.post(reverse("admin:traces_job_add"), {
        "kind": "generate", "checkpoint": checkpoint.pk, "setting": "vanilla", "dataset": "cotempqa",
        "subset": "equal", "split": "", "side": "test", "limit": 2,
        "parameters_json": '{"max_new_tokens": 8, "split": ""}',
    })
    assert response.status_code == 200  # the form again, with the reason
    assert "Not launched: the job queue" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_re_running_with_the_queue_down_leaves_the_job_as_it_was(checkpoint, equal_problems, monkeypatch):
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    point_the_queue_at_nothing(monkeypatch)
    with pytest.raises(jobs.JobError, match="Not launched"):
        jobs.rerun(job)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED


@pytest.mark.django_db
def test_a_running_job_whose_worker_stopped_beating_is_marked_lost_and_can_be_re_run(
    checkpoint, equal_problems, settings
):
    settings.JOB_LOST_AFTER_S = 60
    now = timezone.now()
    silent = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    alive = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[1:2], "vanilla", FAST)
    Job.objects.filter(pk=silent.pk).update(status=Job.Status.RUNNING, worker="gpu-1 pid 7",
                                            heartbeat_at=now - timedelta(seconds=61))
    Job.objects.filter(pk=alive.pk).update(status=Job.Status.RUNNING, heartbeat_at=now - timedelta(seconds=5))
    assert lifecycle.reap(now) == {"lost": [silent.pk], "requeued": []}
    silent.refresh_from_db()
    alive.refresh_from_db()
    assert silent.status == Job.Status.LOST and "Lost: no heartbeat from gpu-1 pid 7" in silent.log
    assert alive.status == Job.Status.RUNNING
    with pytest.raises(jobs.JobError, match="already finished"):
        jobs.cancel(silent)  # nothing runs it any more
    assert jobs.rerun(silent).status == Job.Status.QUEUED


@pytest.mark.django_db
def test_a_job_running_on_a_live_worker_is_not_taken_by_a_second_delivery(checkpoint, equal_problems):
    """Redis may deliver a job again (its visibility timeout passed): one worker per job."""
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    runners.run_job(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.attempts == 1 and not hasattr(job, "evaluation")


@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats(checkpoint, equal_problems):
    job = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    start = timezone.now() - timedelta(minutes=5)
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING, heartbeat_at=start)
    with lifecycle.Heartbeat(job.pk, every=0.05):
        time.sleep(0.3)
    job.refresh_from_db()
    assert job.heartbeat_at > start + timedelta(minutes=4)


@pytest.mark.django_db
def test_a_job_never_sent_is_sent_by_the_reaper_even_where_the_queue_cannot_be_inspected(
    filesystem_broker, checkpoint, equal_problems, settings
):
    """The launch stored the job but its process stopped before the send that follows the commit
    (here: the test's transaction never commits, so that send never runs). A job never sent is in no
    queue, so it is sent even on the filesystem transport; one that was sent is left alone there, as
    nothing says its message is gone."""
    settings.JOB_REQUEUE_AFTER_S = 60
    never_sent = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[:1], "vanilla", FAST)
    sent = jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[1:2], "vanilla", FAST)
    cancelled = jobs.cancel(jobs.launch(Job.Kind.GENERATE, checkpoint, equal_problems[2:3], "vanilla", FAST))
    made = timezone.now()
    Job.objects.filter(pk=sent.pk).update(queued_at=made)
    assert never_sent.queued_at is None and lifecycle.queued_job_ids() is None
    assert lifecycle.reap(made + timedelta(seconds=30))["requeued"] == []  # its launch may still send it
    assert lifecycle.reap(made + timedelta(seconds=61))["requeued"] == [never_sent.pk]
    never_sent.refresh_from_db()
    assert never_sent.queued_at is not None and "had never been sent to the queue" in never_sent.log
    assert len(queued_messages(filesystem_broker, "gpu", lifecycle.RUN_JOB_TASK, never_sent.pk)) == 1
    for job in (sent, cancelled):
        assert not queued_messages(filesystem_broker, "gpu", lifecycle.RUN_JOB_TASK, job.pk)
    assert lifecycle.reap(timezone.now() + timedelta(seconds=30))["requeued"] == []  # sent: not again
