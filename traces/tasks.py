"""Celery tasks of the traces app: model jobs go to the ``gpu`` queue, the reaper to the default one
(see CELERY_TASK_ROUTES and CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from . import lifecycle


@shared_task(name=lifecycle.RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> None:
    """Acknowledged only when done: a worker that dies mid-job leaves it to be delivered again."""
    from . import runners  # torch and transformers: only on the GPU workers that run this

    runners.run_job(job_id)


@shared_task(name="traces.reap_jobs", ignore_result=True)
def reap_jobs() -> dict:
    """Lost and lost-message jobs (traces.lifecycle.reap), every JOB_REAP_EVERY_S seconds."""
    return lifecycle.reap()
