"""Rule-based decomposition traces for bAbI, as arXiv 2505.13792 built them.

From the authors' ``scripts/babiqa_create_sft_data.py`` and ``babiqa_create_sft_data_perturbed.py``
(read, not copied) and their published ``babi/test/test_correct_traces.csv`` /
``test_incorrect_traces.csv`` (``traces/data/trace_check_qa``):

* classification step: "The category of the question represents what is being asked in that
  question. The category of the question asked is: <task>.\\n", the task being the bAbI task name
  (``query_type``, e.g. ``basic-induction``);
* retrieval step: "I need to use the following text to answer the question: " + the supporting
  facts as a Python list;
* assembled as ``<think>`` + both steps + ``</think> <answer>`` + the answer + ``</answer>``, the
  answer written as it is (bAbI answers are one string, not a list).

An incorrect trace names another of the eleven task names and, instead of the supporting facts,
as many of the story's other sentences (fewer when the story has fewer), keeping the right
answer. The authors drew both with an unseeded ``random`` and wrote the drawn sentences in lower
case; here the draw is seeded by ``seed`` and the question, and the sentences keep their case,
so that case does not give the wrong trace away. ``authors_exact=True`` lower-cases them as the
authors did. Correct traces are the authors' character for character (tested on all 376 test
problems).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["CLASSIFICATION_TEMPLATE", "RETRIEVAL_PREFIX", "TASKS", "build_babi_trace"]

#: The authors' task names, in their order (used to draw a wrong one).
TASKS: tuple[str, ...] = (
    "single-supporting-fact",
    "two-supporting-facts",
    "two-arg-relations",
    "counting",
    "lists-sets",
    "conjunction",
    "time-reasoning",
    "basic-deduction",
    "basic-induction",
    "positional-reasoning",
    "size-reasoning",
)
CLASSIFICATION_TEMPLATE = (
    "The category of the question represents what is being asked in that question. "
    "The category of the question asked is: {task}.\n"
)
RETRIEVAL_PREFIX = "I need to use the following text to answer the question: "


def build_babi_trace(
    question: str,
    facts: Sequence[str],
    answer: str,
    task: str,
    supporting_facts: Sequence[str],
    *,
    correct: bool = True,
    seed: int = 0,
    authors_exact: bool = False,
) -> str:
    """A correct or incorrect bAbI decomposition trace; the final answer is always ``answer``."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    supporting = list(supporting_facts)
    if correct:
        named, listed = task, supporting
    else:
        rng = random.Random(f"{seed}\x1f{question}")
        named = rng.choice([t for t in TASKS if t != task])
        others = [f for f in facts if f not in supporting]
        if authors_exact:
            lowered = {s.lower() for s in supporting}
            others = [f.lower() for f in facts if f.lower() not in lowered]
        listed = rng.sample(others, min(len(supporting), len(others)))
    reasoning = CLASSIFICATION_TEMPLATE.format(task=named) + RETRIEVAL_PREFIX + str(listed)
    return f"<think>{reasoning}</think> <answer>{answer}</answer>"
