"""Launching, cancelling and re-running model jobs; the admin, commands and tests all come here.

Jobs never run inside a web request: launching checks that the queue answers (nothing is stored if
it does not), stores the job and, once the transaction commits, sends it to the Celery ``gpu`` queue.
"""

import random
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import lifecycle, reference_traces, sft, trace_prompts
from .job_parameters import FineTuneJob, JobError, JobParameters, TraceJob, parse
from .models import TRACE_JOB_KINDS, Checkpoint, Endpoint, Job, Problem, ProblemSplit
from .run_settings import PRESETS, GenerationSettings, TrainingSettings
from .splits import SplitError, get_split, split_problems, test_side_conflicts

# Every job: how its prompts are written (sft.PROMPT_STYLES; ``system_prompt`` replaces the style's
# system message when given), the chat template's ``enable_thinking`` (Qwen3; empty: the template's
# default), the stored split it keeps out of training (fine-tune) or whose test problems the
# published step lookup reads (generate, evaluate), and, on a checkpoint, whether the worker refuses
# it before loading when its estimated memory will not fit (modeling.resources; false: try anyway).
PROMPT_DEFAULTS: dict[str, Any] = {
    "prompt_style": "project", "model_family": "", "split": "authors", "system_prompt": "",
    "enable_thinking": None, "check_memory": True,
}
GENERATION_DEFAULTS: dict[str, Any] = {"batch_size": 16, **asdict(GenerationSettings()), **PROMPT_DEFAULTS}
# ``traces_from``: which source's reference traces to learn from (or summarise, or explain) when a
# problem has several (reference_traces.choose); empty: the only one there is.
TRAINING_DEFAULTS: dict[str, Any] = {
    "preset": "cpu_small", **asdict(TrainingSettings()), **PROMPT_DEFAULTS, "traces_from": "",
}
# Trace jobs: the prompt (trace_prompts.DEFAULT_TEMPLATES, the authors' wording), the system prompt,
# and decoding; a summary is greedy (temperature 0), as the authors' was.
_TRACE_COMMON: dict[str, Any] = {
    "batch_size": 16, **asdict(GenerationSettings()), "system_prompt": "", "enable_thinking": None,
    "check_memory": True,
}
TRACE_DEFAULTS: dict[str, dict[str, Any]] = {
    Job.Kind.REASONING: {**_TRACE_COMMON, "prompt_template": trace_prompts.DEFAULT_TEMPLATES["reasoning"]},
    Job.Kind.SUMMARY: {
        **_TRACE_COMMON, "do_sample": False, "traces_from": "",
        "prompt_template": trace_prompts.DEFAULT_TEMPLATES["summary"],
    },
    Job.Kind.EXPLANATION: {
        **_TRACE_COMMON, "traces_from": "", "answer_from": "reasoning",
        "prompt_template": trace_prompts.DEFAULT_TEMPLATES["explanation"],
    },
}
# Parameters whose default is None ("the model's own") or a list: the type a given value must have.
_TYPES: dict[str, type] = {
    "do_sample": bool, "temperature": float, "top_p": float, "top_k": int, "enable_thinking": bool,
    "stop_strings": list,
}
_CHOICES: dict[str, tuple[str, ...]] = {
    "prompt_style": sft.PROMPT_STYLES,
    "model_family": ("", *sft.MODEL_FAMILIES),
    "preset": tuple(PRESETS),
    "loss_on": ("assistant", "all"),
    "overlong": ("drop", "truncate"),
    "answer_from": trace_prompts.ANSWER_SOURCES,
    # transformers' SchedulerType and OptimizerNames (named here: the web process does not import them)
    "lr_scheduler": ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                     "constant_with_warmup", "inverse_sqrt", "cosine_with_min_lr", "warmup_stable_decay"),
    "optimizer": ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adamw_8bit", "adamw_bnb_8bit",
                  "paged_adamw_8bit", "paged_adamw_32bit", "lion_8bit", "paged_lion_8bit"),
}

# Bounds that keep a typo from launching a job that can never finish (or never start).
_BOUNDS: dict[str, tuple[float, float]] = {
    "batch_size": (1, 1024),
    "max_new_tokens": (1, 131072),
    "temperature": (1e-6, 100),
    "top_p": (1e-6, 1),
    "top_k": (0, 1_000_000),
    "epochs": (0, 1000),
    "max_steps": (0, 10_000_000),
    "learning_rate": (1e-12, 1),
    "warmup_ratio": (0, 0.99),
    "gradient_accumulation": (1, 4096),
    "weight_decay": (0, 1),
    "max_length": (8, 1_048_576),
    "lora_r": (1, 1024),
    "lora_alpha": (1, 16384),
    "lora_dropout": (0, 0.9),
    "save_steps": (1, 10_000_000),
}


def defaults_for(kind: str) -> dict[str, Any]:
    if kind in TRACE_DEFAULTS:
        return dict(TRACE_DEFAULTS[kind])
    return dict(TRAINING_DEFAULTS if kind == Job.Kind.FINETUNE else GENERATION_DEFAULTS)


def keep_out_split(kind: str, given: dict[str, Any], split: str) -> dict[str, Any]:
    """``given`` with the split the problems were chosen from as the one the job keeps out and grades
    against, unless it names one; trace jobs keep none out (they only take their problems from it)."""
    if split and "split" in defaults_for(kind):
        return {"split": split, **given}
    return given


def clean_parameters(kind: str, given: dict[str, Any]) -> dict[str, Any]:
    """The job's full parameters: defaults (a fine-tune's from its ``preset``) overridden by `given`,
    each checked for type and range."""
    defaults = defaults_for(kind)
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise JobError(f"Unknown parameters for a {kind} job: {', '.join(unknown)}.")
    if "preset" in defaults:
        preset = str(given.get("preset") or defaults["preset"])
        if preset not in PRESETS:
            raise JobError(f"preset must be one of {', '.join(repr(p) for p in PRESETS)}, not {preset!r}.")
        defaults.update(PRESETS[preset], preset=preset)
    cleaned = {}
    for name, default in defaults.items():
        value = given.get(name, default)
        kind_of = _TYPES.get(name, type(default))
        unset = value is None or (value == "" and default is None)  # the model's (or template's) own
        cleaned[name] = None if unset else _coerce(name, value, kind_of)
        if cleaned[name] is None:
            continue
        if name in _CHOICES and cleaned[name] not in _CHOICES[name]:
            choices = ", ".join(repr(c) for c in _CHOICES[name])
            raise JobError(f"{name} must be one of {choices}, not {cleaned[name]!r}.")
        low, high = _BOUNDS.get(name, (None, None))
        if low is not None and not low <= cleaned[name] <= high:
            raise JobError(f"{name} must be between {low:g} and {high:g}, not {cleaned[name]}.")
    if "prompt_template" in cleaned:
        try:
            trace_prompts.check_template(kind, cleaned["prompt_template"])
        except trace_prompts.TemplateError as error:
            raise JobError(str(error)) from None
    return cleaned


def _coerce(name: str, value: Any, kind: type) -> Any:
    if kind is list:  # a list of strings, given as one or as a JSON-like list
        items = value if isinstance(value, list | tuple) else [value]
        if not all(isinstance(item, str) and item for item in items):
            raise JobError(f"{name} must be a list of non-empty strings, not {value!r}.")
        return list(items)
    if kind is str:
        return str(value) if name == "prompt_template" else str(value).strip()  # a template keeps its spaces
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


def parameters_of(job: Job) -> JobParameters:
    """The job's typed parameters (``job_parameters``), parsed from the flat ones it stores."""
    return parse(job.kind, job.parameters)


def split_kept_out(name: str, dataset: str) -> ProblemSplit | None:
    """The stored split of that name (None when the name is empty)."""
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
    dataset: str, subset: str = "", *, split: str = "", side: str = "", limit: int | None = None,
    per_subset: int | None = None, seed: int = 0, of_job: int | None = None,
) -> QuerySet:
    """Problems of a dataset (and subset); with ``split`` and ``side``, one side of a stored split,
    in the split's order. ``limit`` takes the first so many; ``per_subset`` draws that many of each
    relation or task at random from ``seed`` (the same draw every time), so a job is balanced over
    them; ``of_job`` takes exactly the problems of an earlier job (summaries and explanations of the
    traces it made). A subset with too few problems for ``per_subset`` is a JobError naming it."""
    if limit and per_subset:
        raise JobError("Choose either a limit or a number per relation or task, not both.")
    if of_job is not None:
        earlier = Job.objects.filter(pk=of_job).first()
        if earlier is None:
            raise JobError(f"There is no job #{of_job} to take the problems of.")
        problems = earlier.problems.filter(dataset=dataset).order_by("subset", "pk")
        if subset:
            problems = problems.filter(subset=subset)
    elif split:
        problems = split_problems(get_split(dataset, split), side or "test", subset)
        problems = problems.filter(dataset=dataset)
    else:
        problems = Problem.objects.filter(dataset=dataset)
        if subset:
            problems = problems.filter(subset=subset)
        problems = problems.order_by("pk")
    if per_subset:
        chosen = balanced_draw(list(problems.values_list("pk", "subset")), per_subset, seed)
        return Problem.objects.filter(pk__in=chosen).order_by("subset", "pk")
    return problems[:limit] if limit else problems


def balanced_draw(candidates: Sequence[tuple[int, str]], per_subset: int, seed: int) -> list[int]:
    """``per_subset`` ids of each subset among (id, subset) pairs, drawn with ``random.Random(seed)``
    from the ids in ascending order, so the draw depends only on the candidates and the seed."""
    by_subset: dict[str, list[int]] = {}
    for pk, subset in sorted(candidates):
        by_subset.setdefault(subset, []).append(pk)
    short = {name: len(ids) for name, ids in by_subset.items() if len(ids) < per_subset}
    if short:
        counts = ", ".join(f"{name} {n}" for name, n in sorted(short.items()))
        raise JobError(
            f"{per_subset} problems per relation or task were asked for, but some have fewer ({counts}): "
            f"ask for at most {min(short.values())} per relation or task, or leave those out (subset)."
        )
    rng = random.Random(seed)
    return [pk for name in sorted(by_subset) for pk in rng.sample(by_subset[name], per_subset)]


def check_launch(
    kind: str,
    checkpoint: Checkpoint | None,
    problems: Sequence[Problem],
    setting: str,
    parameters: dict[str, Any],
    endpoint: Endpoint | None = None,
) -> Job:
    """The unsaved job, or a JobError saying why it cannot be launched (``parameters`` cleaned).
    A trace job's setting is the kind of trace it makes, whatever ``setting`` says."""
    if kind not in Job.Kind.values:
        raise JobError(f"Unknown kind of job {kind!r}; choose one of {', '.join(Job.Kind.values)}.")
    if (checkpoint is None) == (endpoint is None):
        raise JobError("Choose the model: a checkpoint (run on a GPU worker) or an endpoint, not both.")
    if kind == Job.Kind.FINETUNE and endpoint is not None:
        raise JobError(
            "A fine-tune trains a local checkpoint; an endpoint can only answer. Choose a checkpoint."
        )
    setting = TRACE_JOB_KINDS.get(kind, setting)
    if setting not in sft.SETTINGS:
        raise JobError(f"Unknown setting {setting!r}; choose one of {', '.join(sft.SETTINGS)}.")
    if not problems:
        raise JobError("Choose at least one problem.")
    datasets = sorted({p.dataset for p in problems})
    if len(datasets) > 1:
        raise JobError(f"A job runs on one dataset; the chosen problems come from {', '.join(datasets)}.")
    job = Job(kind=kind, checkpoint=checkpoint, endpoint=endpoint, setting=setting, parameters=parameters)
    typed = parameters_of(job)
    split = split_kept_out("" if isinstance(typed, TraceJob) else typed.split, datasets[0])
    if isinstance(typed, TraceJob):
        check_trace_inputs(kind, typed, problems)
    if isinstance(typed, FineTuneJob) and setting in sft.TRACE_SETTINGS:
        traces_to_learn(setting, typed, problems)
    if isinstance(typed, FineTuneJob):
        if checkpoint.is_adapter:
            raise JobError(
                f"{checkpoint.name} is a LoRA adapter; fine-tune a whole model: its base "
                f"({checkpoint.base.name if checkpoint.base else 'unknown'}), or a checkpoint saved merged "
                "(parameter merge=true)."
            )
        check_kept_out(split, problems)
    if kind == Job.Kind.EVALUATE and checkpoint is not None:
        check_not_trained_on(checkpoint, problems)
    if not isinstance(typed, TraceJob):
        typed.prompting.system_message(job.model_name)  # an unknown model family is refused now, not later
    return job


def reasoning_traces(parameters: TraceJob, problems: Sequence[Problem]) -> dict[int, Any]:
    """Problem id -> the reasoning trace a summary or explanation job works from (``traces_from``)."""
    try:
        return reference_traces.choose(problems, "r1", parameters.traces_from)
    except reference_traces.AmbiguousTraces as error:
        raise JobError(str(error)) from None


def check_trace_inputs(kind: str, parameters: TraceJob, problems: Sequence[Problem]) -> None:
    """Refuse a summary or explanation job none of whose problems has a reasoning trace to work from."""
    if parameters.works_from_reasoning(kind) and not reasoning_traces(parameters, problems):
        source = parameters.traces_from or "any source"
        raise JobError(
            f"None of the {len(problems)} chosen problems has a reasoning trace from {source} to "
            f"{'summarise' if kind == Job.Kind.SUMMARY else 'explain'}: run a reasoning-trace job on "
            "them first, or import the authors' traces."
            + (" Or explain the gold answers: answer_from=gold." if kind == Job.Kind.EXPLANATION else "")
        )


def traces_to_learn(setting: str, parameters: FineTuneJob, problems: Sequence[Problem]) -> dict[int, Any]:
    """Problem id -> the reference trace a fine-tune in a trace setting learns for it."""
    try:
        return reference_traces.choose(problems, setting, parameters.traces_from)
    except reference_traces.AmbiguousTraces as error:
        raise JobError(str(error)) from None


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


def launch(
    kind: str,
    checkpoint: Checkpoint | None,
    problems: QuerySet | list[Problem],
    setting: str,
    parameters: dict[str, Any] | None = None,
    user=None,
    endpoint: Endpoint | None = None,
) -> Job:
    """Store a job and queue it for a GPU worker when the transaction commits. A queue that does not
    answer is a JobError, and nothing is stored."""
    problems = list(problems)
    job = check_launch(
        kind, checkpoint, problems, setting, clean_parameters(kind, parameters or {}), endpoint=endpoint
    )
    check_queue()
    with transaction.atomic():
        job.created_by = user
        job.save()
        job.problems.set([p.pk for p in problems])
        _queue_on_commit(job)
    return job


def check_queue() -> None:
    """JobError, in words, when the broker does not answer."""
    try:
        lifecycle.check_queue()
    except lifecycle.QueueUnreachable as error:
        raise JobError(f"Not launched: {error}. Start the broker (Redis) and try again.") from None


def cancel(job: Job) -> Job:
    """A queued job is cancelled at once; a running one stops after its current batch or step (a
    fine-tune saves a checkpoint there, so a re-run goes on from it)."""
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
    """Queue a failed, cancelled or lost job again; it resumes from what it committed (generation
    after its stored outputs, a fine-tune from its last checkpoint)."""
    check_queue()
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED, Job.Status.LOST):
            raise JobError(f"Only failed, cancelled or lost jobs can be re-run; #{job.pk} is {job.status}.")
        job.status = Job.Status.QUEUED
        job.cancel_requested = False
        job.error = ""
        job.finished_at = None
        job.save(update_fields=["status", "cancel_requested", "error", "finished_at"])
        _queue_on_commit(job)
    return job


def _queue_on_commit(job: Job) -> None:
    transaction.on_commit(lambda: _send(job))


def _send(job: Job) -> None:
    """Send a committed job; if the broker went away since the check, say so on the job."""
    try:
        lifecycle.send(job)
    except lifecycle.QueueUnreachable as error:
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.FAILED, finished_at=timezone.now(),
            error=f"Could not be queued: {error}. Re-run it when the broker is back.",
        )
        lifecycle.log(job, f"Could not be queued: {error}.")
