"""Celery tasks of the traces app. Model jobs go to the ``gpu`` queue (see CELERY_TASK_ROUTES)."""

from celery import shared_task

from . import runners
from .jobs import RUN_JOB_TASK


@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    """Acknowledged only when done: a worker that dies mid-job leaves it to be delivered again."""
    runners.run_job(job_id)
