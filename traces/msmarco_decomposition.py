"""Rule-based decomposition traces for MS MARCO, as arXiv 2505.13792 built them, and the passages they name.

From the authors' ``marcoqa`` branch (``scripts/marco_process_data_for_prompting.py``,
``marco_create_sft_data.py``, ``marco_create_sft_data_perturbed.py``; read, not copied):

* classification step: bAbI's sentence (``babi_decomposition.CLASSIFICATION_TEMPLATE``) naming the
  query type, one of ``CATEGORIES`` as MS MARCO v2.1 writes them ("... asked is: NUMERIC.\\n");
* retrieval step: "I need to use the following text to answer the question: " + ONE passage as
  bare text (``str(passage)``: no list, no quotes);
* assembled as ``<think>`` + both steps + ``</think> <answer>`` + the first gold answer +
  ``</answer>``, as their training rows write it.

Which passage the correct trace names. The authors computed it: the passage sharing the most
lower-cased word tokens (NLTK's ``word_tokenize``) with the first answer, the first of equals
winning; for a "No Answer Present." query, the answer itself; when no passage shares a token, their
CSV cell was empty and the trace read "[]". MS MARCO records what the annotator actually used
(``is_selected``), and the authors' rule ignores it, so it can name a passage nobody used. Here the
correct trace names a selected passage: the only one, or of several the one the authors' overlap
ranks first; only when none is selected does the overlap choose among all passages
(``answer_passage``). ``authors_exact=True`` applies the authors' rule (tokens here approximate
``word_tokenize``: words, numbers with their decimal point, single punctuation marks).
``gold_passages`` are what a correct retrieval may name, the definition the strict grading uses.

An incorrect trace names another of the five categories and a passage that does not support the
answer, keeping the right answer. The authors drew both with an unseeded ``random``: the passage
among those sharing fewer than 8 whitespace words with their ``answer_passage`` column lower-cased
and stripped of punctuation (on training rows the answer passage, on test rows, where that column
holds the answers, the first answer; every passage for "No Answer Present."), so it could draw the
passage the annotator used. Here the draw is seeded by ``seed`` and the question, and the passage is
one nobody selected, other than the correct trace's, sharing fewer than 8 words with it and with the
first answer, so that it never supports the answer; when no passage qualifies, any other unselected
one is named, and "[]" when there is none. ``authors_exact=True`` draws as they did.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from traces.babi_decomposition import CLASSIFICATION_TEMPLATE, RETRIEVAL_PREFIX

__all__ = [
    "CATEGORIES",
    "NO_ANSWER",
    "answer_passage",
    "authors_answer_text",
    "build_msmarco_trace",
    "gold_passages",
    "shared_words",
]

#: The query types, in the authors' order (used to draw a wrong one).
CATEGORIES: tuple[str, ...] = ("DESCRIPTION", "NUMERIC", "ENTITY", "LOCATION", "PERSON")
#: MS MARCO's answer where the passages hold none.
NO_ANSWER = "No Answer Present."
#: The authors' limit: a passage sharing this many words with the answer's text is no distractor.
SHARED_WORDS_LIMIT = 8
#: What the retrieval step writes when it names no passage (the authors' empty cell, ``str([])``).
NO_PASSAGE = "[]"

_TOKEN_RE = re.compile(r"\w+(?:[.,]\w+)*|[^\w\s]")


def _has_no_answer(answers: Sequence[str]) -> bool:
    """Whether the query's first answer says the passages hold none (the authors' test)."""
    return not answers or "no answer present" in answers[0].lower()


def _overlap_passage(passages: Sequence[str], answer: str) -> str | None:
    """The passage sharing the most lower-cased tokens with the answer, the first of equals; None when
    no passage shares one."""
    wanted = set(_TOKEN_RE.findall(answer.lower()))
    best, best_overlap = None, 0
    for passage in passages:
        overlap = len(wanted & set(_TOKEN_RE.findall(passage.lower())))
        if overlap > best_overlap:
            best, best_overlap = passage, overlap
    return best


def shared_words(text: str, passage: str) -> int:
    """How many whitespace words the passage shares with ``text``, the text lower-cased and stripped of
    punctuation and the passage only lower-cased, as the authors counted."""
    words = "".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split()
    return len(set(words) & set(passage.lower().split()))


def gold_passages(passages: Sequence[str], is_selected: Sequence[int], answers: Sequence[str]) -> list[str]:
    """The passages a correct retrieval step may name: the selected ones; when the annotator selected
    none, the one the authors' overlap finds; none for a "No Answer Present." query."""
    if _has_no_answer(answers):
        return []
    selected = [p for p, flag in zip(passages, is_selected, strict=False) if flag]
    if selected:
        return selected
    found = _overlap_passage(passages, answers[0])
    return [found] if found is not None else []


def authors_answer_text(passages: Sequence[str], answers: Sequence[str]) -> str | None:
    """The authors' ``answer_passage``: the passage overlapping most with the first answer, or the answer
    itself for "No Answer Present."; None when no passage shares a token with the answer."""
    if _has_no_answer(answers):
        return answers[0] if answers else NO_ANSWER
    return _overlap_passage(passages, answers[0])


def answer_passage(
    passages: Sequence[str],
    is_selected: Sequence[int],
    answers: Sequence[str],
    *,
    authors_exact: bool = False,
) -> str | None:
    """The passage the correct trace names (module docstring), None when it names none."""
    if _has_no_answer(answers):
        return None
    if authors_exact:
        return _overlap_passage(passages, answers[0])
    gold = gold_passages(passages, is_selected, answers)
    return (_overlap_passage(gold, answers[0]) or gold[0]) if gold else None


def _distractor(
    passages: Sequence[str], is_selected: Sequence[int], answers: Sequence[str], named: str | None,
    rng: random.Random, authors_exact: bool,
) -> str:
    def near(text: str | None, passage: str) -> bool:
        return text is not None and shared_words(text, passage) >= SHARED_WORDS_LIMIT

    if authors_exact:  # "No Answer Present." shares fewer than 8 words with any passage: all qualify
        pool = [p for p in passages if not near(authors_answer_text(passages, answers), p)]
        return rng.choice(pool) if pool else NO_PASSAGE
    wrong = {*gold_passages(passages, is_selected, answers), named}
    answer = None if _has_no_answer(answers) else answers[0]
    others = [p for p in passages if p not in wrong]
    pool = [p for p in others if not near(named, p) and not near(answer, p)] or others
    return rng.choice(pool) if pool else NO_PASSAGE


def build_msmarco_trace(
    question: str,
    passages: Sequence[str],
    answers: Sequence[str],
    query_type: str,
    is_selected: Sequence[int],
    *,
    correct: bool = True,
    seed: int = 0,
    authors_exact: bool = False,
) -> str:
    """A correct or incorrect MS MARCO decomposition trace; the final answer is always the first answer."""
    if query_type not in CATEGORIES:
        raise ValueError(f"query_type must be one of {CATEGORIES}, got {query_type!r}")
    if not answers:
        raise ValueError(f"{question!r} has no answer")
    named = answer_passage(passages, is_selected, answers, authors_exact=authors_exact)
    if correct:
        category = query_type
        text = named if named is not None else answers[0] if _has_no_answer(answers) else NO_PASSAGE
    else:
        rng = random.Random(f"{seed}\x1f{question}")
        category = rng.choice([c for c in CATEGORIES if c != query_type])
        text = _distractor(passages, is_selected, answers, named, rng, authors_exact)
    reasoning = CLASSIFICATION_TEMPLATE.format(task=category) + RETRIEVAL_PREFIX + text
    return f"<think>{reasoning}</think> <answer>{answers[0]}</answer>"
