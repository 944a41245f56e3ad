"""A job's parameters as typed values, one kind of object per kind of job.

A job stores its parameters as the flat, validated JSON that ``jobs.clean_parameters`` makes (what
the admin shows and the exports keep). They are parsed into one of these once, when the job is
launched (to check it) and once when a worker starts it; what runs the job is handed the object and
never reads the job's JSON again.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from . import loaders, sft
from .models import TRACE_JOB_KINDS, Job
from .run_settings import GenerationSettings, TrainingSettings


class JobError(ValueError):
    """What a researcher asked for cannot be launched or run; the message says why."""


@dataclass(frozen=True)
class Prompting:
    """How a generation or fine-tune job writes its prompts: the style (``sft.PROMPT_STYLES``), the
    model family whose system message the authors' style uses, and a system prompt that replaces it."""

    style: str = "project"
    model_family: str = ""
    system_prompt: str = ""

    def system_message(self, model_name: str) -> str:
        """``system_prompt`` when given; else the authors' for the model's family in their style (the
        family named, else read from the model's name), none in ours."""
        if self.system_prompt:
            return self.system_prompt
        if self.style != "authors":
            return ""
        try:
            return sft.authors_system_message(self.model_family or model_name)
        except ValueError as error:
            raise JobError(str(error)) from None

    def turns(self, problem: loaders.Problem, model_name: str, phase: str = "train") -> list[dict[str, str]]:
        """The prompt turns a model is given for a problem."""
        return sft.build_messages(problem, style=self.style, phase=phase,
                                  system_message=self.system_message(model_name))


@dataclass(frozen=True)
class GenerationJob:
    """A generate or evaluate job: its prompts, decoding, batch size, and the stored split whose test
    problems the published step lookup reads."""

    prompting: Prompting
    decoding: GenerationSettings
    batch_size: int = 16
    split: str = ""
    enable_thinking: bool | None = None
    check_memory: bool = True  # on a checkpoint: refuse before loading when it will not fit (resources)


@dataclass(frozen=True)
class FineTuneJob:
    """A fine-tune: its prompts, hyper-parameters (from its preset and what was given), the stored split
    it keeps out of training, and which source's reference traces it learns when there are several."""

    prompting: Prompting
    training: TrainingSettings
    preset: str = "cpu_small"
    split: str = ""
    traces_from: str = ""
    enable_thinking: bool | None = None
    check_memory: bool = True


@dataclass(frozen=True)
class TraceJob:
    """A reasoning, summary or explanation job: its prompt template and system prompt, decoding, the
    source of the reasoning traces it summarises or explains, and (an explanation) which answer it
    explains: the reasoning trace's or the gold one."""

    prompt_template: str
    decoding: GenerationSettings
    batch_size: int = 16
    system_prompt: str = ""
    traces_from: str = ""
    answer_from: str = ""
    enable_thinking: bool | None = None
    check_memory: bool = True

    def works_from_reasoning(self, kind: str) -> bool:
        """Whether the job works from the problems' reasoning traces (a summary, or an explanation of the
        answer a reasoning trace gave)."""
        return kind == Job.Kind.SUMMARY or (kind == Job.Kind.EXPLANATION and self.answer_from == "reasoning")


JobParameters = GenerationJob | FineTuneJob | TraceJob


def _of(cls: type, flat: dict[str, Any]) -> Any:
    """The dataclass's fields taken from ``flat`` (those it lacks keep their defaults)."""
    return cls(**{f.name: flat[f.name] for f in fields(cls) if f.name in flat})


def _decoding(flat: dict[str, Any]) -> GenerationSettings:
    settings = _of(GenerationSettings, flat)
    return GenerationSettings(**{**settings.__dict__, "stop_strings": tuple(settings.stop_strings or ())})


def parse(kind: str, flat: dict[str, Any]) -> JobParameters:
    """The typed parameters of a job of ``kind`` from its stored (cleaned) flat parameters."""
    common = {"enable_thinking": flat.get("enable_thinking"), "check_memory": flat.get("check_memory", True)}
    if kind in TRACE_JOB_KINDS:
        return TraceJob(
            prompt_template=flat["prompt_template"], decoding=_decoding(flat),
            batch_size=flat.get("batch_size", 16),
            system_prompt=flat.get("system_prompt", ""), traces_from=flat.get("traces_from", ""),
            answer_from=flat.get("answer_from", ""), **common,
        )
    prompting = Prompting(
        style=flat.get("prompt_style", "project"), model_family=flat.get("model_family", ""),
        system_prompt=flat.get("system_prompt", ""),
    )
    if kind == Job.Kind.FINETUNE:
        return FineTuneJob(prompting=prompting, training=_of(TrainingSettings, flat),
                           preset=flat.get("preset", "cpu_small"), split=flat.get("split", ""),
                           traces_from=flat.get("traces_from", ""), **common)
    return GenerationJob(prompting=prompting, decoding=_decoding(flat),
                         batch_size=flat.get("batch_size", 16), split=flat.get("split", ""), **common)
