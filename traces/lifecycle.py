"""Jobs that outlive their workers: the queue's reachability, heartbeats, and the periodic reaper.

A running job's worker writes ``Job.heartbeat_at`` every ``JOB_HEARTBEAT_S`` seconds from a thread
of its own, so a long model load or training step still shows life. ``reap`` (the Celery beat
task ``traces.reap_jobs``, every ``JOB_REAP_EVERY_S`` seconds) marks a running job whose worker has
been silent for ``JOB_LOST_AFTER_S`` as lost, so an admin can re-run it (it resumes from what was
committed), and sends again a queued job whose message the broker no longer holds (Redis restarted
without persistence), and sends a queued job that was never sent at all (the process that launched it
stopped between storing it and the send that follows the commit). Nothing here imports torch: the
web process and beat use it too.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import socket
import threading
from datetime import datetime, timedelta

from celery import current_app
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from .models import Job

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "traces.run_job"  # routed to the gpu queue by CELERY_TASK_ROUTES
JOB_QUEUE = "gpu"


class QueueUnreachable(Exception):
    """The broker cannot be reached: nothing can be sent to a worker now."""


class JobCancelled(Exception):
    """An admin asked the job to stop."""


def stop_if_cancelled(job: Job) -> None:
    """Raise JobCancelled when an admin has asked the job to stop (checked between committed steps)."""
    if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled()


def broker_name() -> str:
    """The broker's address without credentials, for messages."""
    url = current_app.conf.broker_url or ""
    return url.split("@")[-1] if "@" in url else url


def check_queue() -> None:
    """Raise QueueUnreachable unless the broker answers (one quick attempt)."""
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECT_TIMEOUT_S)
    except Exception as error:  # kombu raises OperationalError, redis its own, sockets OSError
        raise QueueUnreachable(f"the job queue ({broker_name()}) cannot be reached: {error}") from error


def send(job: Job) -> None:
    """Send the job to the GPU queue and note when; raise QueueUnreachable if the broker is down.
    By name: the web process never imports the worker's code (and with it torch)."""
    try:
        current_app.send_task(RUN_JOB_TASK, args=[job.pk], retry=False)
    except Exception as error:
        raise QueueUnreachable(f"the job queue ({broker_name()}) cannot be reached: {error}") from error
    Job.objects.filter(pk=job.pk).update(queued_at=timezone.now())


def worker_name() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"


class Heartbeat:
    """While the block runs, a daemon thread writes the job's heartbeat every ``every`` seconds."""

    def __init__(self, job_id: int, every: float | None = None) -> None:
        self.job_id = job_id
        self.every = every if every is not None else settings.JOB_HEARTBEAT_S
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-job-{job_id}", daemon=True)

    def _beat(self) -> None:
        try:
            running = Job.objects.filter(pk=self.job_id, status=Job.Status.RUNNING)
            while not self._stop.wait(self.every):
                running.update(heartbeat_at=timezone.now())
        except Exception:  # a failed beat must never take the job down; the reaper judges silence
            logger.exception("Heartbeat of job %s failed", self.job_id)
        finally:
            connections.close_all()  # this thread's own connections

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def is_silent(job: Job, now: datetime) -> bool:
    """Whether a running job's worker has stopped beating."""
    last = job.heartbeat_at or job.started_at
    return last is None or last < now - timedelta(seconds=settings.JOB_LOST_AFTER_S)


def reap(now: datetime | None = None) -> dict[str, list[int]]:
    """Mark silent running jobs as lost; send again queued jobs the broker no longer holds, and send
    queued jobs never sent (no ``queued_at``) once they are ``JOB_REQUEUE_AFTER_S`` old. A broker that
    cannot be inspected (the filesystem transport) gets only the never-sent ones: a job never sent is
    in no queue, and in the one case where it might be (the launching process stopped between the send
    and noting it), the second message finds the job running or finished and does nothing.
    Returns the ids of each, for the log and the tests."""
    now = now or timezone.now()
    lost = []
    for job in Job.objects.filter(status=Job.Status.RUNNING):
        if is_silent(job, now):
            with transaction.atomic():
                locked = Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING).first()
                if locked is None or not is_silent(locked, now):
                    continue
                locked.status, locked.finished_at = Job.Status.LOST, now
                locked.save(update_fields=["status", "finished_at"])
            last = job.heartbeat_at or job.started_at
            log(job, f"Lost: no heartbeat from {job.worker or 'its worker'} since {last:%Y-%m-%d %H:%M:%S}. "
                      "Re-run it to resume from what was saved.")
            lost.append(job.pk)
    requeued = []
    cutoff = now - timedelta(seconds=settings.JOB_REQUEUE_AFTER_S)
    waiting = Job.objects.filter(status=Job.Status.QUEUED, cancel_requested=False).filter(
        Q(queued_at__lt=cutoff) | Q(queued_at__isnull=True, created_at__lt=cutoff)
    )
    if waiting.exists():
        held = queued_job_ids()
        for job in waiting:
            never_sent = job.queued_at is None
            if not _needs_sending(job, held):
                continue
            try:
                send(job)
            except QueueUnreachable as error:
                logger.warning("Job %s not re-queued: %s", job.pk, error)
                break
            log(job, "It had never been sent to the queue (its launch stopped before it was): sent now."
                if never_sent else "Its message was no longer in the queue (broker restarted?): sent again.")
            requeued.append(job.pk)
    return {"lost": lost, "requeued": requeued}


def _needs_sending(job: Job, held: set[int] | None) -> bool:
    """Whether a queued job waiting too long must be sent: the broker does not hold its message
    (``held``: ``queued_job_ids``), or, where the broker cannot be inspected, it was never sent."""
    return job.pk not in held if held is not None else job.queued_at is None


def queued_job_ids() -> set[int] | None:
    """The job ids the broker holds for the GPU queue (waiting or delivered and not yet acknowledged);
    None where the transport cannot be inspected (only Redis can), so that only jobs never sent are
    sent, nothing that may be waiting in a queue."""
    url = current_app.conf.broker_url or ""
    if not url.startswith(("redis://", "rediss://")):
        return None
    with current_app.connection_for_read() as connection:
        channel = connection.default_channel
        client = channel.client
        raw = []
        for priority in channel.priority_steps:
            raw += client.lrange(channel._q_for_pri(JOB_QUEUE, priority), 0, -1)
        raw += [json.loads(value)[0] for value in client.hvals(channel.unacked_key)]
    ids = set()
    for message in raw:
        payload = json.loads(message) if isinstance(message, str | bytes) else message
        headers = payload.get("headers", {})
        if headers.get("task") == RUN_JOB_TASK:
            args = ast.literal_eval(headers.get("argsrepr") or "[]")
            if args:
                ids.add(int(args[0]))
    return ids


def log(job: Job, message: str) -> None:
    """Append a time-stamped line to the job's log, visible in the admin while it runs."""
    line = f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"
    Job.objects.filter(pk=job.pk).update(log=Concat(F("log"), Value(line)))
