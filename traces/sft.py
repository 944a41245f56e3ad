"""Chat-format fine-tuning examples for the six trace settings of arXiv 2505.13792.

The paper fine-tunes on the same problems with different assistant targets and
compares the models, so the only thing that may differ between settings is the
target: the prompt, the final answer and the train/test split are shared.

Prompt (the user message), as in the authors' CSV ``question`` column and the
project's pilot stimuli (``/work/shared/data/cotempqa_pilot/README.md``), with
its trailing newline::

    "Answer the question based on the context:\\n" + "\\n".join(facts)
    + "\\nQuestion: " + question + " Only return the answer.\\n"

Assistant content per setting, following the authors' scripts in GitHub
sbhambr1/Trace_Check_QA:

* ``vanilla``: the answer only, ``str(gold_answers)`` (the CSV ``answer``
  column): ``scripts/old_scripts/cotempqa_create_sft_data.py`` (commit
  25f464b16c3cdfdd11c29a9aed312f48c1628041), branch without
  ``--include_reasoning``: ``{"content": output_text, "role": "assistant"}``.
* ``decomposition_correct`` / ``decomposition_incorrect``: the whole string of
  ``traces.decomposition.build_trace(correct=True / False)``, which already is
  ``"<think>" + reasoning + "</think>" + " " + "<answer>" + answer + "</answer>"``
  (same script, ``--include_facts`` branch; perturbed version in
  ``scripts/cotempqa_create_sft_data_perturbed.py``, commit
  f16584449e7a2edb96adf230485b4ab4df8e21a6).
* ``r1``, ``r1_summary``, ``posthoc``: ``"<think>" + text + "</think>" + " " +
  "<answer>" + answer + "</answer>"`` with ``text`` the R1 trace, its summary or
  the post-hoc explanation: ``scripts/cotempqa_create_r1_sft_datasets.py``
  (commit b806dd37194363b681787fec01a9a723c1ec8314, flags ``vanilla_r1``,
  ``summarized_r1``, ``explanation_r1``; same format at commit
  6089d7165ed23a46e6a59eb8c8fb18bff699c61a). The authors' ``answer`` there is
  R1's own final answer (they kept only problems R1 got right); here it is
  ``str(gold_answers)`` unless the caller passes R1's answers, so that every
  setting ends in the same answer string.

Split: the authors drew ``sample(frac=0.2, random_state=42)`` separately in each
script, so test problems need not match across settings. Here a problem's side
is a function of its ``source_id`` and a seed only (SHA-256), so it is the same
in every setting, reproducible, and unchanged when problems are added; the test
share is ``test_fraction`` on average (not exactly).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from traces.decomposition import RELATIONS, build_trace
from traces.loaders import Problem

__all__ = [
    "SETTINGS",
    "TRACE_SETTINGS",
    "SFTDataset",
    "SFTExample",
    "assign_split",
    "assistant_content",
    "build_examples",
    "build_prompt",
    "split_problems",
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


def build_prompt(question: str, facts: Sequence[str]) -> str:
    """The authors' user prompt, trailing newline included."""
    return (
        "Answer the question based on the context:\n"
        + "\n".join(facts)
        + "\nQuestion: "
        + question
        + " Only return the answer.\n"
    )


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
    final = answer if answer is not None else str(list(problem.gold_answers))
    if setting == "vanilla":
        return final
    if setting in ("decomposition_correct", "decomposition_incorrect"):
        if problem.split not in RELATIONS:
            raise ValueError(
                f"{setting!r} builds CoTempQA decomposition traces; {problem.source_id} is from "
                f"{problem.dataset}/{problem.split}, not a temporal relation in {RELATIONS}"
            )
        return build_trace(
            problem.question,
            problem.facts,
            problem.gold_answers,
            problem.split,
            correct=setting == "decomposition_correct",
            seed=trace_seed,
        )
    if trace is None or not trace.strip():
        raise ValueError(f"setting {setting!r} needs a trace for {problem.source_id}")
    return "<think>" + trace + "</think>" + " " + "<answer>" + final + "</answer>"


def assign_split(source_id: str, *, test_fraction: float = 0.2, seed: int = 0) -> str:
    """'test' or 'train' for a problem, from a hash of its id and the seed only."""
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
    digest = hashlib.sha256(f"{seed}\x1f{source_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return "test" if u < test_fraction else "train"


def split_problems(
    problems: Iterable[Problem], *, test_fraction: float = 0.2, seed: int = 0
) -> dict[str, str]:
    """source_id -> 'train' / 'test' for every problem (ids must be unique)."""
    out: dict[str, str] = {}
    for p in problems:
        if p.source_id in out:
            raise ValueError(f"duplicate source_id {p.source_id!r}")
        out[p.source_id] = assign_split(p.source_id, test_fraction=test_fraction, seed=seed)
    return out


@dataclass(frozen=True)
class SFTExample:
    """One chat-format training example and where it belongs."""

    source_id: str
    setting: str
    split: str
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
            "split": self.split,
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

    def split(self, name: str) -> list[SFTExample]:
        """Examples on one side ('train' or 'test')."""
        return [e for e in self.examples if e.split == name]


def build_examples(
    problems: Sequence[Problem],
    setting: str,
    *,
    traces: Mapping[str, str | None] | None = None,
    answers: Mapping[str, str] | None = None,
    test_fraction: float = 0.2,
    seed: int = 0,
    trace_seed: int = 0,
) -> SFTDataset:
    """Examples of one setting for all problems, tagged train/test.

    ``traces`` (source_id -> text) feeds the r1 / r1_summary / posthoc settings;
    problems with no text there (missing, None or blank) are skipped and listed
    in ``skipped``. ``answers`` (source_id -> text) optionally replaces the gold
    answer string, e.g. with R1's own answers as the authors did. The split
    depends only on ``source_id``, ``test_fraction`` and ``seed``, so it is the
    same in every setting.
    """
    _check_setting(setting)
    if setting in TRACE_SETTINGS and traces is None:
        raise ValueError(f"setting {setting!r} needs traces (source_id -> text)")
    sides = split_problems(problems, test_fraction=test_fraction, seed=seed)
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
        examples.append(
            SFTExample(
                source_id=p.source_id,
                setting=setting,
                split=sides[p.source_id],
                messages=[
                    {"role": "user", "content": build_prompt(p.question, p.facts)},
                    {"role": "assistant", "content": content},
                ],
                dataset=p.dataset,
                subset=p.split,
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
