"""Launching, cancelling and re-running model jobs; the admin, commands and tests all come here.

Jobs never run inside a web request: launching stores the job and, once the transaction commits,
sends it to the Celery ``gpu`` queue.
"""

from collections.abc import Sequence
from dataclasses import asdict, fields
from typing import Any

from celery import current_app
from django.db import transaction
from django.db.models import QuerySet

from . import loaders, sft
from .models import Checkpoint, Job, Problem, ProblemSplit
from .run_settings import GenerationSettings, TrainingSettings
from .splits import SplitError, get_split, split_problems, test_side_conflicts

RUN_JOB_TASK = "traces.run_job"  # routed to the gpu queue by CELERY_TASK_ROUTES
# Every job: how its prompts are written (sft.PROMPT_STYLES), and the stored split it keeps out of
# training (fine-tune) or whose test problems the published step lookup reads (generate, evaluate).
PROMPT_DEFAULTS: dict[str, Any] = {"prompt_style": "project", "model_family": "", "split": "authors"}
GENERATION_DEFAULTS: dict[str, Any] = {"batch_size": 16, **asdict(GenerationSettings()), **PROMPT_DEFAULTS}
TRAINING_DEFAULTS: dict[str, Any] = {**asdict(TrainingSettings()), **PROMPT_DEFAULTS}
_CHOICES: dict[str, tuple[str, ...]] = {
    "prompt_style": sft.PROMPT_STYLES,
    "model_family": ("", *sft.MODEL_FAMILIES),
}

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
        if name in _CHOICES and cleaned[name] not in _CHOICES[name]:
            choices = ", ".join(repr(c) for c in _CHOICES[name])
            raise JobError(f"{name} must be one of {choices}, not {cleaned[name]!r}.")
        low, high = _BOUNDS.get(name, (None, None))
        if low is not None and not low <= cleaned[name] <= high:
            raise JobError(f"{name} must be between {low:g} and {high:g}, not {cleaned[name]}.")
    return cleaned


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is str:
        return str(value).strip()
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


def system_message(job: Job) -> str:
    """The system message of the job's prompts: the authors' for the model's family in their style
    (the family named in ``model_family``, else read from the checkpoint's name), none in ours."""
    if job.parameters.get("prompt_style") != "authors":
        return ""
    try:
        return sft.authors_system_message(job.parameters.get("model_family") or job.checkpoint.name)
    except ValueError as error:
        raise JobError(str(error)) from None


def prompt_turns(job: Job, problem: loaders.Problem, phase: str = "train") -> list[dict[str, str]]:
    """The prompt turns the job gives the model for a problem."""
    return sft.build_messages(
        problem, style=job.parameters["prompt_style"], system_message=system_message(job), phase=phase
    )


def split_kept_out(job: Job, dataset: str) -> ProblemSplit | None:
    """The stored split named in the job's parameters (None when the name is empty)."""
    name = job.parameters.get("split", "")
    if not name:
        return None
    try:
        return get_split(dataset, name)
    except SplitError as error:
        raise JobError(str(error)) from None


def check_kept_out(split: ProblemSplit | None, problems: Sequence[Problem]) -> None:
    """Refuse to train on problems on the test side of ``split``, naming some of them."""
    if split is None:
        return
    conflicts = test_side_conflicts(split, problems)
    if conflicts:
        named = ", ".join(p.source_id for p in conflicts[:5]) + (", ..." if len(conflicts) > 5 else "")
        raise JobError(
            f"{len(conflicts)} of the {len(problems)} chosen problems are test problems of split "
            f"{split.name!r} ({named}); a model is not trained on the problems it is tested on. Choose the "
            f"train side of that split, or keep out another split (parameter split)."
        )


def select_problems(
    dataset: str, subset: str = "", *, split: str = "", side: str = "", limit: int | None = None
) -> QuerySet:
    """Problems of a dataset (and subset); with ``split`` and ``side``, one side of a stored split,
    in the split's order."""
    if split:
        problems = split_problems(get_split(dataset, split), side or "test", subset)
        problems = problems.filter(dataset=dataset)
    else:
        problems = Problem.objects.filter(dataset=dataset)
        if subset:
            problems = problems.filter(subset=subset)
        problems = problems.order_by("pk")
    return problems[:limit] if limit else problems


def check_launch(
    kind: str, checkpoint: Checkpoint, problems: Sequence[Problem], setting: str, parameters: dict[str, Any]
) -> Job:
    """The unsaved job, or a JobError saying why it cannot be launched (``parameters`` cleaned)."""
    if kind not in Job.Kind.values:
        raise JobError(f"Unknown kind of job {kind!r}; choose one of {', '.join(Job.Kind.values)}.")
    if setting not in sft.SETTINGS:
        raise JobError(f"Unknown setting {setting!r}; choose one of {', '.join(sft.SETTINGS)}.")
    if not problems:
        raise JobError("Choose at least one problem.")
    datasets = sorted({p.dataset for p in problems})
    if len(datasets) > 1:
        raise JobError(f"A job runs on one dataset; the chosen problems come from {', '.join(datasets)}.")
    job = Job(kind=kind, checkpoint=checkpoint, setting=setting, parameters=parameters)
    split = split_kept_out(job, datasets[0])
    if kind == Job.Kind.FINETUNE:
        check_kept_out(split, problems)
    if kind == Job.Kind.EVALUATE:
        check_not_trained_on(checkpoint, problems)
    system_message(job)  # an unknown model family is refused now, not on the worker
    return job


def trained_on(checkpoint: Checkpoint) -> set[int]:
    """The problems the checkpoint was fine-tuned on here, through every fine-tune it descends from."""
    ids: set[int] = set()
    while checkpoint is not None:
        if checkpoint.made_by_id is not None:
            ids.update(checkpoint.made_by.problems.values_list("pk", flat=True))
        checkpoint = checkpoint.base
    return ids


def check_not_trained_on(checkpoint: Checkpoint, problems: Sequence[Problem]) -> None:
    """Refuse to evaluate a checkpoint on problems it was fine-tuned on, naming some of them."""
    seen = trained_on(checkpoint)
    overlap = [p for p in problems if p.pk in seen]
    if overlap:
        named = ", ".join(p.source_id for p in overlap[:5]) + (", ..." if len(overlap) > 5 else "")
        raise JobError(
            f"{checkpoint.name} was fine-tuned on {len(overlap)} of the {len(problems)} chosen problems "
            f"({named}); evaluate it on problems it has not seen, e.g. the test side of the split its "
            "fine-tune kept out."
        )


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
    problems = list(problems)
    job = check_launch(kind, checkpoint, problems, setting, clean_parameters(kind, parameters or {}))
    job.created_by = user
    job.save()
    job.problems.set([p.pk for p in problems])
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
