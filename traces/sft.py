"""Chat-format fine-tuning examples for the six trace settings of arXiv 2505.13792.

The paper fine-tunes on the same problems with different assistant targets and
compares the models, so the only thing that may differ between settings is the
target: the prompt, the final answer and the train/test split are shared.

Prompt (the user message) in two styles, ``PROMPT_STYLES``:

* ``project`` (the default): the facts one a line, as in the authors' zero-shot scripts, bAbI's
  ``query`` column and the project's pilot stimuli::

      "Answer the question based on the context:\n" + "\n".join(facts)
      + "\nQuestion: " + question + " Only return the answer.\n"

* ``authors``: exactly what the authors' fine-tuned models saw. CoTempQA puts the facts on one line
  as a Python list (``str(facts)``, the CSV ``question`` column and their inference script), bAbI
  one a line; in evaluation (``phase="evaluate"``) their bAbI script wrote "\nOnly return the
  answer.\n" where its training data has " Only return the answer.\n". MS MARCO puts the passages
  on one line as a Python list and ends "\nOnly return the answer.\n" in training and evaluation
  alike (``marco_process_data_for_prompting.py``, ``marco_config.py``, branch ``marcoqa``). A system
  message comes first, one per model family (``authors_system_message``), as their training and
  inference scripts add it.

Assistant content per setting, following the authors' scripts in GitHub
sbhambr1/Trace_Check_QA:

* ``vanilla``: the answer only: CoTempQA's ``str(gold_answers)`` (the CSV ``answer`` column),
  bAbI's answer string, MS MARCO's first answer (as their training rows):
  ``scripts/old_scripts/cotempqa_create_sft_data.py`` (commit
  25f464b16c3cdfdd11c29a9aed312f48c1628041), ``scripts/babiqa_create_sft_data.py`` and
  ``scripts/marco_create_sft_data.py``, branch without ``--include_reasoning``.
* ``decomposition_correct`` / ``decomposition_incorrect``: the whole trace of
  ``traces.decomposition.build_trace`` (CoTempQA), ``traces.babi_decomposition.build_babi_trace``
  (bAbI) or ``traces.msmarco_decomposition.build_msmarco_trace`` (MS MARCO),
  ``"<think>" + reasoning + "</think>" + " " + "<answer>" + answer + "</answer>"``.
* ``r1``, ``r1_summary``, ``posthoc``: ``"<think>" + text + "</think>" + " " + "<answer>" + answer
  + "</answer>"`` with ``text`` the R1 trace, its summary or the post-hoc explanation:
  ``scripts/cotempqa_create_r1_sft_datasets.py`` (commit b806dd37194363b681787fec01a9a723c1ec8314,
  flags ``vanilla_r1``, ``summarized_r1``, ``explanation_r1``). The authors' ``answer`` there is
  R1's own final answer (they kept only problems R1 got right); here it is the gold answer unless
  the caller passes R1's answers, so that every setting ends in the same answer string.

Which side of the train/test split a problem is on comes from a stored split
(``traces.splits``), never from here: examples carry the side they are given.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from traces.babi_decomposition import build_babi_trace
from traces.decomposition import RELATIONS, build_trace
from traces.loaders import Problem
from traces.msmarco_decomposition import build_msmarco_trace

__all__ = [
    "MODEL_FAMILIES",
    "PROMPT_STYLES",
    "SETTINGS",
    "TRACE_SETTINGS",
    "SFTDataset",
    "SFTExample",
    "assistant_content",
    "authors_system_message",
    "build_examples",
    "build_messages",
    "build_prompt",
    "write_jsonl",
]

SETTINGS: tuple[str, ...] = (
    "vanilla",
    "decomposition_correct",
    "decomposition_incorrect",
    "r1",
    "r1_summary",
    "posthoc",
)
#: Settings whose reasoning text the caller supplies per problem.
TRACE_SETTINGS: tuple[str, ...] = ("r1", "r1_summary", "posthoc")
PROMPT_STYLES: tuple[str, ...] = ("project", "authors")
#: The model families the authors wrote a system message for, as their scripts spell them.
MODEL_FAMILIES: tuple[str, ...] = ("Llama", "Qwen", "Gemma", "Mistral")
_SYSTEM_MESSAGE = (
    "You are {family}, an AI assistant created to be helpful and honest. Your knowledge spans a wide "
    "range of topics, allowing you to engage in substantive conversations and provide analysis on "
    "complex subjects."
)


def build_prompt(
    question: str,
    facts: Sequence[str],
    *,
    style: str = "project",
    dataset: str = "cotempqa",
    phase: str = "train",
) -> str:
    """The user prompt in a style (see the module docstring), trailing newline included."""
    if style not in PROMPT_STYLES:
        raise ValueError(f"prompt style must be one of {PROMPT_STYLES}, got {style!r}")
    listed = style == "authors" and dataset in ("cotempqa", "msmarco")
    context = str(list(facts)) if listed else "\n".join(facts)
    own_line = style == "authors" and (dataset == "msmarco" or (dataset, phase) == ("babi", "evaluate"))
    ending = "\nOnly return the answer.\n" if own_line else " Only return the answer.\n"
    return "Answer the question based on the context:\n" + context + "\nQuestion: " + question + ending


def authors_system_message(model: str) -> str:
    """The authors' system message for a model, its family read from its name ("llama" in it:
    Llama, and so on), or a ValueError naming the families."""
    for family in MODEL_FAMILIES:
        if family.lower() in model.lower():
            return _SYSTEM_MESSAGE.format(family=family)
    raise ValueError(
        f"The authors wrote system messages for {', '.join(MODEL_FAMILIES)} models only, and {model!r} "
        "names none of them: name the family (model_family) or use the project's prompt style."
    )


def build_messages(
    problem: Problem, *, style: str = "project", system_message: str = "", phase: str = "train"
) -> list[dict[str, str]]:
    """The prompt turns of a chat for one problem: the system message if any, then the user prompt."""
    prompt = build_prompt(problem.question, problem.facts, style=style, dataset=problem.dataset, phase=phase)
    system = [{"role": "system", "content": system_message}] if system_message else []
    return [*system, {"role": "user", "content": prompt}]


def _check_setting(setting: str) -> None:
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")


def assistant_content(
    setting: str,
    problem: Problem,
    *,
    trace: str | None = None,
    answer: str | None = None,
    trace_seed: int = 0,
) -> str:
    """The assistant target for one problem in one setting (see module docstring).

    ``trace`` is required for the r1 / r1_summary / posthoc settings; ``answer``
    replaces ``str(gold_answers)`` in those settings and in vanilla.
    ``trace_seed`` seeds the incorrect decomposition trace.
    """
    _check_setting(setting)
    babi, msmarco = problem.dataset == "babi", problem.dataset == "msmarco"
    gold = problem.gold_answers[0] if babi or msmarco else str(list(problem.gold_answers))
    final = answer if answer is not None else gold
    if setting == "vanilla":
        return final
    if setting in ("decomposition_correct", "decomposition_incorrect"):
        correct = setting == "decomposition_correct"
        if babi:
            return build_babi_trace(
                problem.question, problem.facts, gold, problem.subset,
                problem.metadata.get("supporting_facts", []), correct=correct, seed=trace_seed,
            )
        if msmarco:
            return build_msmarco_trace(
                problem.question, problem.facts, problem.gold_answers, problem.subset,
                problem.metadata.get("is_selected", []), correct=correct, seed=trace_seed,
            )
        if problem.subset not in RELATIONS:
            raise ValueError(
                f"{setting!r} builds CoTempQA, bAbI or MS MARCO decomposition traces; {problem.source_id} is "
                f"from {problem.dataset}/{problem.subset}, not a temporal relation in {RELATIONS}"
            )
        return build_trace(
            problem.question, problem.facts, problem.gold_answers, problem.subset,
            correct=correct, seed=trace_seed,
        )
    if trace is None or not trace.strip():
        raise ValueError(f"setting {setting!r} needs a trace for {problem.source_id}")
    return "<think>" + trace + "</think>" + " " + "<answer>" + final + "</answer>"


@dataclass(frozen=True)
class SFTExample:
    """One chat-format training example and where it belongs."""

    source_id: str
    setting: str
    side: str  # "train" or "test" in the split it was built for
    messages: list[dict[str, str]]
    dataset: str = ""
    subset: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record."""
        return {
            "source_id": self.source_id,
            "dataset": self.dataset,
            "subset": self.subset,
            "setting": self.setting,
            "side": self.side,
            "messages": self.messages,
        }


@dataclass(frozen=True)
class SFTDataset:
    """The examples of one setting and the problems skipped for lack of a trace."""

    setting: str
    examples: list[SFTExample]
    skipped: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        """How many problems had no trace."""
        return len(self.skipped)

    def side(self, name: str) -> list[SFTExample]:
        """Examples on one side ('train' or 'test')."""
        return [e for e in self.examples if e.side == name]


def build_examples(
    problems: Sequence[Problem],
    setting: str,
    *,
    sides: Mapping[str, str] | None = None,
    traces: Mapping[str, str | None] | None = None,
    answers: Mapping[str, str] | None = None,
    style: str = "project",
    system_message: str = "",
    trace_seed: int = 0,
) -> SFTDataset:
    """Examples of one setting for the problems, each tagged with its side in ``sides``
    (source_id -> 'train' / 'test'; 'train' for all when None).

    ``traces`` (source_id -> text) feeds the r1 / r1_summary / posthoc settings; problems with no
    text there (missing, None or blank) are skipped and listed in ``skipped``. ``answers``
    (source_id -> text) optionally replaces the gold answer string, e.g. with R1's own answers as
    the authors did. ``style`` and ``system_message`` shape the prompt turns (``build_messages``).
    """
    _check_setting(setting)
    if setting in TRACE_SETTINGS and traces is None:
        raise ValueError(f"setting {setting!r} needs traces (source_id -> text)")
    examples: list[SFTExample] = []
    skipped: list[str] = []
    for p in problems:
        trace = None
        if setting in TRACE_SETTINGS:
            trace = traces.get(p.source_id) if traces is not None else None
            if trace is None or not str(trace).strip():
                skipped.append(p.source_id)
                continue
        answer = answers.get(p.source_id) if answers is not None else None
        content = assistant_content(setting, p, trace=trace, answer=answer, trace_seed=trace_seed)
        prompt = build_messages(p, style=style, system_message=system_message)
        examples.append(
            SFTExample(
                source_id=p.source_id,
                setting=setting,
                side=sides[p.source_id] if sides is not None else "train",
                messages=[*prompt, {"role": "assistant", "content": content}],
                dataset=p.dataset,
                subset=p.subset,
            )
        )
    return SFTDataset(setting=setting, examples=examples, skipped=skipped)


def write_jsonl(examples: Iterable[SFTExample], path_or_file: str | os.PathLike[str] | IO[str]) -> int:
    """Write examples as JSON Lines (UTF-8); returns how many were written.

    A path is written through a temporary file and renamed, so a failure never
    leaves a half-written file.
    """
    lines = [json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples]
    if not isinstance(path_or_file, str | os.PathLike):
        path_or_file.writelines(lines)
        return len(lines)
    target = Path(path_or_file)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines(lines)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(lines)
