"""Launching, cancelling and re-running model jobs; the admin, commands and tests all come here.

Jobs never run inside a web request: launching stores the job and, once the transaction commits,
sends it to the Celery ``gpu`` queue.
"""

from dataclasses import asdict, fields
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet

from . import sft
from .models import Checkpoint, Job, Problem
from .run_settings import GenerationSettings, TrainingSettings

RUN_JOB_TASK = "traces.run_job"  # routed to the gpu queue by CELERY_TASK_ROUTES
GENERATION_DEFAULTS: dict[str, Any] = {"batch_size": 16, **asdict(GenerationSettings())}
TRAINING_DEFAULTS: dict[str, Any] = {"test_fraction": 0.2, **asdict(TrainingSettings())}

# Bounds that keep a typo from launching a job that can never finish (or never start).
_BOUNDS: dict[str, tuple[float, float]] = {
    "batch_size": (1, 1024),
    "max_new_tokens": (1, 32768),
    "temperature": (1e-6, 100),
    "top_p": (1e-6, 1),
    "steps": (1, 1_000_000),
    "learning_rate": (1e-12, 1),
    "max_length": (8, 131072),
    "lora_r": (1, 1024),
    "test_fraction": (0, 1),
}


class JobError(ValueError):
    """What a researcher asked for cannot be launched; the message says why."""


def defaults_for(kind: str) -> dict[str, Any]:
    return dict(TRAINING_DEFAULTS if kind == Job.Kind.FINETUNE else GENERATION_DEFAULTS)


def clean_parameters(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The job's full parameters: defaults overridden by `given`, each checked for type and range."""
    defaults = defaults_for(kind)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise JobError(f"Unknown parameters for a {kind} job: {', '.join(unknown)}.")
    cleaned = {}
    for name, default in defaults.items():
        value = given.get(name, default)
        cleaned[name] = _coerce(name, value, type(default))
        low, high = _BOUNDS.get(name, (None, None))
        if low is not None and not low <= cleaned[name] <= high:
            raise JobError(f"{name} must be between {low:g} and {high:g}, not {cleaned[name]}.")
    return cleaned


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in {"1", "true", "yes", "on"}:
            return True
        if str(value).lower() in {"0", "false", "no", "off", ""}:
            return False
        raise JobError(f"{name} must be true or false, not {value!r}.")
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise JobError(f"{name} must be a {kind.__name__}, not {value!r}.") from None
    if kind is int and isinstance(value, float) and value != number:
        raise JobError(f"{name} must be a whole number, not {value!r}.")
    return number


def generation_settings(job: Job) -> GenerationSettings:
    names = {f.name for f in fields(GenerationSettings)}
    return GenerationSettings(**{k: v for k, v in job.parameters.items() if k in names})


def training_settings(job: Job) -> TrainingSettings:
    names = {f.name for f in fields(TrainingSettings)}
    return TrainingSettings(**{k: v for k, v in job.parameters.items() if k in names})


def select_problems(
    dataset: str, split: str = "", *, test_only: bool = False, test_fraction: float = 0.2,
    seed: int = 0, limit: int | None = None,
) -> QuerySet:
    """Problems of a dataset (and split); `test_only` keeps the held-out side of sft's split."""
    problems = Problem.objects.filter(dataset=dataset)
    if split:
        problems = problems.filter(split=split)
    if test_only:
        ids = [
            pk for pk, source_id in problems.values_list("pk", "source_id")
            if sft.assign_split(source_id, test_fraction=test_fraction, seed=seed) == "test"
        ]
        problems = Problem.objects.filter(pk__in=ids)
    problems = problems.order_by("pk")
    return problems[:limit] if limit else problems


@transaction.atomic
def launch(
    kind: str,
    checkpoint: Checkpoint,
    problems: QuerySet | list[Problem],
    setting: str,
    parameters: dict[str, Any] | None = None,
    user=None,
) -> Job:
    """Store a job and queue it for a GPU worker when the transaction commits."""
    if kind not in Job.Kind.values:
        raise JobError(f"Unknown kind of job {kind!r}; choose one of {', '.join(Job.Kind.values)}.")
    if setting not in sft.SETTINGS:
        raise JobError(f"Unknown setting {setting!r}; choose one of {', '.join(sft.SETTINGS)}.")
    problem_ids = [p.pk for p in problems]
    if not problem_ids:
        raise JobError("Choose at least one problem.")
    job = Job.objects.create(
        kind=kind, checkpoint=checkpoint, setting=setting, created_by=user,
        parameters=clean_parameters(kind, parameters or {}),
    )
    job.problems.set(problem_ids)
    _queue_on_commit(job)
    return job


def cancel(job: Job) -> Job:
    """A queued job is cancelled at once; a running one stops after its current batch or step."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise JobError(f"Job #{job.pk} has already finished ({job.status}).")
        job.cancel_requested = True
        if job.status == Job.Status.QUEUED:
            job.status = Job.Status.CANCELLED
        job.save(update_fields=["cancel_requested", "status"])
    return job


def rerun(job: Job) -> Job:
    """Queue a failed or cancelled job again; generation resumes after what it has stored."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
            raise JobError(f"Only failed or cancelled jobs can be re-run; #{job.pk} is {job.status}.")
        job.status = Job.Status.QUEUED
        job.cancel_requested = False
        job.error = ""
        job.finished_at = None
        job.save(update_fields=["status", "cancel_requested", "error", "finished_at"])
        _queue_on_commit(job)
    return job


def _queue_on_commit(job: Job) -> None:
    # By name: the web process never imports the worker's code (and with it torch).
    transaction.on_commit(lambda: current_app.send_task(RUN_JOB_TASK, args=[job.pk]))
