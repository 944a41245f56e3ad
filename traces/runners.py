"""Running a job inside a Celery worker: claim it, do the work in committed steps, record the outcome.

Generation stores its outputs, graded, in the job's evaluation: each batch (a local model) or each
reply (an endpoint) is committed with the job's progress in one transaction, so a worker killed in
the middle loses at most what is in flight; run again, the job skips the problems it has stored (and
the database refuses a second output for the same problem in the same evaluation). Trace jobs
(``trace_jobs``) do the same with reference traces. A fine-tune saves a checkpoint every
``save_steps`` in its output directory and resumes from the newest complete one. While a job runs,
its worker beats (``lifecycle.Heartbeat``), so a killed worker's job is found lost and can be re-run.
A job on a checkpoint that this worker cannot run is refused before any weight loads
(``modeling.preflight``); every failure's message reaches the job's log and error.
"""

import logging
import traceback
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from . import model_cache, modeling, sft, trace_jobs
from .backends import BackendError, Reply, RequestRefused, storable_text
from .backends.for_job import backend_for, model_source, template_options
from .evaluations import OutputEntry, build_outputs, graded_records
from .grading.table import model_rows, percent
from .job_parameters import FineTuneJob, GenerationJob, JobError, JobParameters, TraceJob
from .jobs import check_kept_out, parameters_of, split_kept_out, traces_to_learn
from .lifecycle import Heartbeat, JobCancelled, is_silent, log, stop_if_cancelled, worker_name
from .models import Checkpoint, Evaluation, Job, ModelOutput
from .splits import test_rows

logger = logging.getLogger(__name__)


def run_job(job_id: int) -> None:
    """Run one job to its end, whatever happens; the job's row says how it ended."""
    job = _claim(job_id)
    if job is None:
        return
    try:
        with Heartbeat(job.pk):
            parameters = parameters_of(job)  # read once; every step below is handed it
            if job.checkpoint_id is not None:
                _preflight(job, parameters)
            if isinstance(parameters, FineTuneJob):
                _fine_tune(job, parameters)
            elif isinstance(parameters, TraceJob):
                trace_jobs.run(job, parameters, backend_for(job, parameters))
            else:
                _generate(job, parameters)
    except (JobCancelled, modeling.TrainingCancelled):
        _finish(job, Job.Status.CANCELLED, "Cancelled by an admin.")
    except (BackendError, JobError, modeling.Refused) as error:  # said in words: no traceback needed
        logger.warning("Job %s failed: %s", job.pk, error)
        _finish(job, Job.Status.FAILED, f"Failed: {error}", error=str(error))
    except Exception as error:  # its message first, in the log and the error; the traceback after it
        logger.exception("Job %s failed", job.pk)
        reason = "".join(traceback.format_exception_only(error)).strip()
        _finish(job, Job.Status.FAILED, f"Failed: {reason}", error=f"{reason}\n\n{traceback.format_exc()}")
    else:
        _finish(job, Job.Status.SUCCEEDED, "Succeeded.")


def _claim(job_id: int) -> Job | None:
    """Mark the job running, unless it is finished, was cancelled before it started, or is running on
    a worker that still beats (a duplicate or redelivered message: one worker per job).

    A job found 'running' with a silent worker was left so by a worker that died: acks_late
    redelivered it here, and it resumes.
    """
    now = timezone.now()
    with transaction.atomic():
        # of=("self",): lock the job's row only, not the checkpoint that other jobs share.
        locked = Job.objects.select_for_update(of=("self",)).select_related("checkpoint")
        job = locked.filter(pk=job_id).first()
        if job is None or job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
            return None
        if job.status == Job.Status.RUNNING and not is_silent(job, now):
            return None
        if job.cancel_requested:
            job.status, job.finished_at = Job.Status.CANCELLED, timezone.now()
            job.save(update_fields=["status", "finished_at"])
            return None
        job.status = Job.Status.RUNNING
        job.started_at = job.started_at or now
        job.heartbeat_at, job.worker = now, worker_name()
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "attempts", "heartbeat_at", "worker"])
    log(job, f"Attempt {job.attempts} started on {job.worker}.")
    return job


def _preflight(job: Job, parameters: JobParameters) -> None:
    """Refuse, before any weight loads, a job on a checkpoint that this worker cannot run (in words:
    ``modeling.Refused``), and log the dtype the checkpoint runs in when it is not the stored one. The
    model this worker keeps is let go first, unless the job uses it: its memory is free for the job."""
    path, base = job.checkpoint.model_paths()
    training = parameters.training if isinstance(parameters, FineTuneJob) else None
    loaded = training is None and model_cache.holds(path, base)
    if not loaded:
        model_cache.release()
    modeling.preflight(path, base, training, check_memory=parameters.check_memory and not loaded,
                       on_note=lambda note: log(job, note))


def _finish(job: Job, status: str, message: str, error: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), error=error)
    log(job, message)


def _evaluation(job: Job, problems: list, parameters: GenerationJob) -> Evaluation:
    """The job's evaluation: made on the first attempt, found again on a resumed one."""
    evaluation, _ = Evaluation.objects.get_or_create(
        job=job,
        defaults={
            "model_name": job.model_name, "setting": job.setting, "dataset": problems[0].dataset,
            "source": Evaluation.Source.JOB, "split": split_kept_out(parameters.split, problems[0].dataset),
            "details": {"parameters": job.parameters, **model_source(job)},
        },
    )
    return evaluation


def _generate(job: Job, parameters: GenerationJob) -> None:
    """Generate and grade an output for every problem of the job; evaluation also sums up."""
    problems = list(job.problems.order_by("pk"))
    evaluation = _evaluation(job, problems, parameters)
    done = set(evaluation.outputs.values_list("problem_id", flat=True))
    todo = [(position, p) for position, p in enumerate(problems) if p.pk not in done]
    Job.objects.filter(pk=job.pk).update(progress_total=len(problems), progress_done=len(done))
    if done:
        log(job, f"Resuming: {len(done)} of {len(problems)} problems already have an output.")
    chats = [parameters.prompting.turns(p.as_plain(), job.model_name, phase="evaluate") for _, p in todo]
    rows = test_rows(evaluation.split, fallback=problems)
    refused = 0
    # A local model answers in batches of prompts of similar length (less padding; greedy output does
    # not depend on the batch); an endpoint one reply at a time, many in flight.
    for group in backend_for(job, parameters).replies(chats):
        entries = []
        for i, reply in group:
            if isinstance(reply, RequestRefused):
                refused += 1
                log(job, f"{todo[i][1].source_id}: {reply}; skipped (a re-run asks again).")
            else:
                entries.append(_entry(*todo[i], reply))
        with transaction.atomic():
            ModelOutput.objects.bulk_create(build_outputs(evaluation, sorted(entries, key=_position), rows))
            Job.objects.filter(pk=job.pk).update(progress_done=F("progress_done") + len(entries))
        stop_if_cancelled(job)  # what came back is kept; nothing more is asked
    if refused:
        raise JobError(
            f"The server refused {refused} of the {len(todo)} requests (see the log); the rest are stored."
        )
    if job.kind == Job.Kind.EVALUATE:
        row = model_rows(graded_records(evaluation.outputs.all()))[0]
        Job.objects.filter(pk=job.pk).update(metrics=row)
        overall, tables = row["overall"], row["tables"]
        given = ", ".join(
            f"{name} {_pct(tables[name]['p_correct_answer_given_correct_trace'])}" for name in tables
        )
        log(job, f"Answer exact match {_pct(overall['answer_em'])}; "
                 f"P(correct answer | correct trace): {given}.")


def _pct(value: float | None) -> str:
    return percent(None if value is None else value / 100, "undefined")


def _position(entry: OutputEntry) -> int:
    return entry.position


def _entry(position: int, problem, reply: Reply) -> OutputEntry:
    """An output to grade. An endpoint that returns the reasoning apart (vLLM's reasoning parser,
    DeepSeek's API) gets it back inside <think>...</think>, as a local model writes it, so it is graded
    the same way."""
    content = reply.content
    if reply.reasoning:
        content = f"<think>{reply.reasoning}</think>{content}"
    text, notes = storable_text(content)
    return OutputEntry(
        problem=problem, text=text, position=position, prompt=reply.prompt_text, notes=tuple(notes),
        prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens,
        latency_ms=round(reply.latency_s * 1000), settings=reply.settings,
    )


def _fine_tune(job: Job, parameters: FineTuneJob) -> None:
    """Train on the job's problems (none on the test side of the split it keeps out) and register
    the new checkpoint."""
    problems = list(job.problems.order_by("pk"))
    split = split_kept_out(parameters.split, problems[0].dataset)
    if split is None:
        log(job, "No split is kept out: training on every chosen problem.")
    traces = None
    if job.setting in sft.TRACE_SETTINGS:
        traces = {trace.problem.source_id: trace.text
                  for trace in traces_to_learn(job.setting, parameters, problems).values()}
    check_kept_out(split, problems)  # launch checked it; the split may have changed since
    dataset = sft.build_examples(
        [p.as_plain() for p in problems], job.setting, traces=traces,
        style=parameters.prompting.style, system_message=parameters.prompting.system_message(job.model_name),
    )
    train = [example.to_dict() for example in dataset.examples]
    if not train:
        raise JobError(
            f"No training examples for setting {job.setting}: none of the {dataset.n_skipped} problems has "
            "a reference trace."
        )
    log(job, f"{len(train)} training examples ({dataset.n_skipped} problems without a trace skipped)"
             + (f"; none of them is a test problem of split {split.name!r}." if split else "."))
    train_settings = parameters.training
    Job.objects.filter(pk=job.pk).update(
        progress_total=modeling.planned_steps(train_settings, len(train)), progress_done=0
    )
    output_dir = Path(settings.CHECKPOINT_DIR) / f"job-{job.pk}"

    def on_step(step: int, loss: float) -> None:
        Job.objects.filter(pk=job.pk).update(progress_done=step, metrics={"last_loss": loss})

    def should_stop() -> bool:
        return Job.objects.filter(pk=job.pk, cancel_requested=True).exists()

    result = modeling.fine_tune(
        job.checkpoint.path, train, output_dir, train_settings, options=template_options(parameters),
        on_step=on_step, should_stop=should_stop, on_note=lambda note: log(job, note),
    )
    if result.resumed_from:
        log(job, f"Resumed from its checkpoint at step {result.resumed_from}.")
    if result.overlong:
        action = "dropped" if train_settings.overlong == "drop" else "cut"
        log(job, f"{result.overlong} of {len(train)} examples were longer than max_length="
                 f"{train_settings.max_length} tokens and were {action}.")
    Checkpoint.objects.update_or_create(
        path=str(output_dir),
        defaults={"name": f"{job.checkpoint.name}+{job.setting}#{job.pk}", "base": job.checkpoint,
                  "made_by": job, "setting": job.setting},
    )
    Job.objects.filter(pk=job.pk).update(
        progress_done=result.steps, progress_total=result.steps,
        metrics={"losses": result.losses, "train_examples": result.examples, "skipped": dataset.n_skipped,
                 "overlong": result.overlong, "resumed_from": result.resumed_from, "adapter": result.adapter},
    )
