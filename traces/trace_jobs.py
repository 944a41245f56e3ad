"""Running the trace jobs: reasoning traces, their summaries and post-hoc explanations, made on a local
checkpoint or an OpenAI-compatible endpoint and stored as reference traces.

Each reply is stored, with the job's progress, as it arrives (a local model's batch at once), so a
job that stops for any reason asks again, when re-run, only for the problems it has no trace of
(one trace per job and problem, the database holds to it). Every trace keeps the job, the model,
the exact chat it was given, the decoding settings and token counts; a summary or an explanation
also keeps the reasoning trace it was made from.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from django.db import transaction
from django.db.models import F

from . import trace_prompts
from .backends import Message, Reply, RequestRefused, storable_text
from .backends.for_job import model_source
from .grading.outputs import score_answer
from .job_parameters import JobError, TraceJob
from .jobs import reasoning_traces
from .lifecycle import log, stop_if_cancelled
from .models import TRACE_JOB_KINDS, Job, Problem, ReferenceTrace

logger = logging.getLogger(__name__)


class ChatBackend(Protocol):
    """What a backend offers (backends.local.LocalBackend, backends.openai_compatible.EndpointBackend)."""

    def replies(self, chats: list[list[Message]]) -> Iterable[list[tuple[int, Reply | RequestRefused]]]: ...


@dataclass(frozen=True)
class TraceRequest:
    """One chat to send, and what the trace it brings back is made from."""

    problem: Problem
    messages: list[Message]
    based_on: ReferenceTrace | None = None
    answer: str = ""  # the answer summarised or explained


def _problem_prompt(problem: Problem) -> str:
    return trace_prompts.reasoning_messages(
        problem.question, problem.facts, trace_prompts.DEFAULT_TEMPLATES[trace_prompts.REASONING]
    )[-1]["content"]


def _requests(job: Job, parameters: TraceJob, problems: list[Problem]) -> Iterator[TraceRequest]:
    """The chats of the job's problems; a summary or explanation skips (and logs) problems with no
    reasoning trace to work from."""
    template, system = parameters.prompt_template, parameters.system_prompt
    from_reasoning = parameters.works_from_reasoning(job.kind)
    sources = reasoning_traces(parameters, problems) if from_reasoning else {}
    missing = []
    for problem in problems:
        based_on = sources.get(problem.pk)
        if job.kind == Job.Kind.REASONING:
            yield TraceRequest(problem, trace_prompts.reasoning_messages(
                problem.question, problem.facts, template, system))
        elif based_on is None and from_reasoning:
            missing.append(problem.source_id)
        elif job.kind == Job.Kind.SUMMARY:
            yield TraceRequest(problem, trace_prompts.summary_messages(
                based_on.text, template, question=problem.question, answer=based_on.answer,
            ), based_on, based_on.answer)
        else:  # an explanation of the reasoning trace's answer, or of the gold answers
            answer = based_on.answer if based_on else "; ".join(problem.gold_answers)
            problem_prompt = based_on.prompt[-1]["content"] if based_on and based_on.prompt else (
                _problem_prompt(problem))
            yield TraceRequest(problem, trace_prompts.explanation_messages(
                problem_prompt, answer, template, trace=based_on.text if based_on else "", system=system,
            ), based_on, answer)
    if missing:
        named = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        log(job, f"{len(missing)} problems have no reasoning trace to work from and were skipped ({named}).")


def _trace(job: Job, request: TraceRequest, reply: Reply, source: dict) -> ReferenceTrace:
    """The unsaved trace a reply makes."""
    think_opened = reply.prompt_text.rstrip().endswith("<think>")
    content, content_notes = storable_text(reply.content)
    reasoning, reasoning_notes = storable_text(reply.reasoning or "")
    read = trace_prompts.read_reply(content, reasoning or None, think_opened=think_opened)
    problem = request.problem
    details = {
        **source, "settings": reply.settings, "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens, "latency_ms": round(reply.latency_s * 1000),
        "finish_reason": reply.finish_reason,
        "notes": sorted({*content_notes, *reasoning_notes}) + list(read.notes),
    }
    if reply.prompt_text:
        details["prompt_text"] = reply.prompt_text
    if job.kind == Job.Kind.REASONING:
        text, answer = read.reasoning, read.answer
    else:  # what the model wrote after any reasoning of its own, which is kept apart
        text, answer = read.answer, request.answer
        if read.reasoning:
            details["reasoning"] = read.reasoning
    correct = score_answer(answer, problem.as_plain()).exact_match if answer else None
    if request.based_on is not None and job.kind == Job.Kind.SUMMARY:
        correct = request.based_on.answer_correct
    return ReferenceTrace(
        problem=problem, kind=TRACE_JOB_KINDS[job.kind], text=text, answer=answer, answer_correct=correct,
        source=f"job #{job.pk}", job=job,
        model_name=job.model_name, prompt=request.messages, based_on=request.based_on, details=details,
    )


def run(job: Job, parameters: TraceJob, backend: ChatBackend) -> None:
    """Make the job's traces, storing each as it comes; problems already done are not asked again."""
    problems = list(job.problems.order_by("pk"))
    done = set(ReferenceTrace.objects.filter(job=job).values_list("problem_id", flat=True))
    requests = list(_requests(job, parameters, [p for p in problems if p.pk not in done]))
    Job.objects.filter(pk=job.pk).update(progress_total=len(done) + len(requests), progress_done=len(done))
    if done:
        log(job, f"Resuming: {len(done)} of {len(problems)} problems already have a trace.")
    source, refused, empty = model_source(job), 0, 0
    for group in backend.replies([r.messages for r in requests]):
        traces = []
        for index, reply in group:
            if isinstance(reply, RequestRefused):
                refused += 1
                log(job, f"{requests[index].problem.source_id}: {reply}; skipped (a re-run asks again).")
                continue
            trace = _trace(job, requests[index], reply, source)
            empty += not trace.text
            traces.append(trace)
        with transaction.atomic():
            ReferenceTrace.objects.bulk_create(traces)
            Job.objects.filter(pk=job.pk).update(progress_done=F("progress_done") + len(traces))
        stop_if_cancelled(job)  # what came back is kept; nothing more is asked
    stored = ReferenceTrace.objects.filter(job=job)
    right = stored.filter(answer_correct=True).count()
    log(job, f"{stored.count()} {TRACE_JOB_KINDS[job.kind]} traces stored; {right} with a correct answer"
             + (f"; {empty} came back empty (see each trace's notes)." if empty else "."))
    if refused:
        raise JobError(f"The server refused {refused} of the {len(requests)} requests (see the log); "
                       "the rest are stored.")
