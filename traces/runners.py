"""Running a job inside a Celery worker: claim it, do the work in committed steps, record the outcome.

Generation commits each batch with the job's progress in one transaction, so a worker killed in
the middle loses at most the batch in flight; run again, the job skips the problems it has stored
(and the database refuses a second trace for the same problem in the same job).
"""

import logging
import socket
import traceback
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from . import grading, modeling, sft
from .jobs import generation_settings, training_settings
from .model_cache import cached_model
from .models import Checkpoint, GeneratedTrace, Job, Problem, ReferenceTrace

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """An admin asked the job to stop."""


def run_job(job_id: int) -> None:
    """Run one job to its end, whatever happens; the job's row says how it ended."""
    job = _claim(job_id)
    if job is None:
        return
    try:
        if job.kind == Job.Kind.FINETUNE:
            _fine_tune(job)
        else:
            _generate(job)
    except (JobCancelled, modeling.TrainingCancelled):
        _finish(job, Job.Status.CANCELLED, "Cancelled by an admin.")
    except Exception:
        logger.exception("Job %s failed", job.pk)
        _finish(job, Job.Status.FAILED, "Failed.", error=traceback.format_exc())
    else:
        _finish(job, Job.Status.SUCCEEDED, "Succeeded.")


def _claim(job_id: int) -> Job | None:
    """Mark the job running, unless it is finished or was cancelled before it started.

    A job found 'running' was left so by a worker that died: acks_late redelivered it here.
    """
    with transaction.atomic():
        # of=("self",): lock the job's row only, not the checkpoint that other jobs share.
        locked = Job.objects.select_for_update(of=("self",)).select_related("checkpoint")
        job = locked.filter(pk=job_id).first()
        if job is None or job.status not in (Job.Status.QUEUED, Job.Status.RUNNING):
            return None
        if job.cancel_requested:
            job.status, job.finished_at = Job.Status.CANCELLED, timezone.now()
            job.save(update_fields=["status", "finished_at"])
            return None
        job.status = Job.Status.RUNNING
        job.started_at = job.started_at or timezone.now()
        job.attempts += 1
        job.save(update_fields=["status", "started_at", "attempts"])
    log(job, f"Attempt {job.attempts} started on {socket.gethostname()}.")
    return job


def _finish(job: Job, status: str, message: str, error: str = "") -> None:
    Job.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), error=error)
    log(job, message)


def log(job: Job, message: str) -> None:
    """Append a time-stamped line to the job's log, visible in the admin while it runs."""
    line = f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"
    Job.objects.filter(pk=job.pk).update(log=Concat(F("log"), Value(line)))


def _stop_if_cancelled(job: Job) -> None:
    if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
        raise JobCancelled()


def _generate(job: Job) -> None:
    """Generate, parse and grade a trace for every problem of the job; evaluation also sums up."""
    problems = list(job.problems.order_by("pk"))
    done = set(job.traces.values_list("problem_id", flat=True))
    todo = [p for p in problems if p.pk not in done]
    Job.objects.filter(pk=job.pk).update(progress_total=len(problems), progress_done=len(done))
    if done:
        log(job, f"Resuming: {len(done)} of {len(problems)} problems already have a trace.")
    model, tokenizer = cached_model(job.checkpoint.path)
    gen_settings = generation_settings(job)
    prompts = [sft.build_prompt(p.question, p.facts) for p in todo]
    # Prompts of similar length share a batch (less padding); greedy output does not depend on the batch.
    for indices in modeling.batches_by_length(tokenizer, prompts, job.parameters["batch_size"]):
        _stop_if_cancelled(job)
        batch = [todo[i] for i in indices]
        outputs = modeling.generate(model, tokenizer, [prompts[i] for i in indices], gen_settings)
        rows = [_graded_trace(job, problem, output) for problem, output in zip(batch, outputs, strict=True)]
        with transaction.atomic():
            GeneratedTrace.objects.bulk_create(rows)
            Job.objects.filter(pk=job.pk).update(progress_done=F("progress_done") + len(rows))
    if job.kind == Job.Kind.EVALUATE:
        summary = grading.summarize(job.traces.all())
        Job.objects.filter(pk=job.pk).update(metrics=summary_to_metrics(summary))
        given_trace = grading.percent(summary.p_answer_given_correct_trace, "undefined: no correct trace")
        log(job, f"Final-answer accuracy {grading.percent(summary.answer_accuracy)}; "
                 f"P(correct answer | correct trace) {given_trace}.")


def storable_text(text: str) -> tuple[str, list[str]]:
    """Model output with NUL characters replaced (PostgreSQL text cannot hold them), and a note."""
    if "\x00" not in text:
        return text, []
    return text.replace("\x00", "\ufffd"), ["The output contained NUL characters, stored as U+FFFD."]


def _graded_trace(job: Job, problem: Problem, output: modeling.Generation) -> GeneratedTrace:
    text, notes = storable_text(output.text)
    grade = grading.grade_trace(
        text, question=problem.question, facts=problem.facts,
        gold_answers=problem.gold_answers, relation=problem.split,
    )
    return GeneratedTrace(
        job=job, problem=problem, checkpoint=job.checkpoint, prompt=output.prompt, raw_text=text,
        relation=grade.relation, retrieved_facts=grade.retrieved_facts, answer=grade.answer,
        answer_correct=grade.answer_correct, classification_correct=grade.classification_correct,
        retrieval_correct=grade.retrieval_correct, grade_notes=notes + grade.errors + grade.retrieval_issues,
        prompt_tokens=output.prompt_tokens, completion_tokens=output.completion_tokens,
        latency_ms=round(output.latency_s * 1000),
    )


def summary_to_metrics(summary: grading.GradeSummary) -> dict:
    """The summary as JSON: rates (None where undefined) and the trace x answer table."""
    return {
        "n": summary.n,
        "answer_accuracy": summary.answer_accuracy,
        "classification_accuracy": summary.classification_accuracy,
        "retrieval_accuracy": summary.retrieval_accuracy,
        "trace_accuracy": summary.trace_accuracy,
        "p_answer_given_correct_trace": summary.p_answer_given_correct_trace,
        "p_answer_given_incorrect_trace": summary.p_answer_given_incorrect_trace,
        "table": {
            "trace_correct_answer_correct": summary.trace_correct_answer_correct,
            "trace_correct_answer_wrong": summary.trace_correct_answer_wrong,
            "trace_wrong_answer_correct": summary.trace_wrong_answer_correct,
            "trace_wrong_answer_wrong": summary.trace_wrong_answer_wrong,
        },
    }


def _fine_tune(job: Job) -> None:
    """Train on the training side of the setting's dataset and register the new checkpoint."""
    plain = [p.as_plain() for p in job.problems.order_by("pk")]
    traces = None
    if job.setting in sft.TRACE_SETTINGS:
        traces = dict(
            ReferenceTrace.objects.filter(problem__in=job.problems.all(), kind=job.setting)
            .values_list("problem__source_id", "text")
        )
    dataset = sft.build_examples(
        plain, job.setting, traces=traces,
        test_fraction=job.parameters["test_fraction"], seed=job.parameters["seed"],
    )
    train = [example.to_dict() for example in dataset.split("train")]
    if not train:
        raise ValueError(
            f"No training examples for setting {job.setting}: {dataset.n_skipped} problems have no "
            "reference trace and the rest fall on the test side of the split."
        )
    log(job, f"{len(train)} training examples ({dataset.n_skipped} problems without a trace skipped).")
    train_settings = training_settings(job)
    Job.objects.filter(pk=job.pk).update(progress_total=train_settings.steps, progress_done=0)
    output_dir = Path(settings.CHECKPOINT_DIR) / f"job-{job.pk}"

    def on_step(step: int, loss: float) -> None:
        Job.objects.filter(pk=job.pk).update(progress_done=step, metrics={"last_loss": loss})

    def should_stop() -> bool:
        return Job.objects.filter(pk=job.pk, cancel_requested=True).exists()

    losses = modeling.fine_tune(
        job.checkpoint.path, train, output_dir, train_settings, on_step=on_step, should_stop=should_stop
    )
    Checkpoint.objects.create(
        name=f"{job.checkpoint.name}+{job.setting}#{job.pk}", path=str(output_dir), base=job.checkpoint,
        made_by=job, setting=job.setting,
    )
    Job.objects.filter(pk=job.pk).update(
        metrics={"losses": losses, "train_examples": len(train), "skipped": dataset.n_skipped}
    )
