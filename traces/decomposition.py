"""Rule-based decomposition traces for CoTempQA, after arXiv 2505.13792.

The paper "Interpretable Traces, Unexpected Outcomes" fine-tunes models on
CoTempQA with a two-step "decomposition" trace: a classification step (which
temporal relation the question asks about) and an information-retrieval step
(which context facts answer it). An *incorrect* trace keeps the final answer
but swaps in a wrong relation and facts that do not support the answer.

Format, as built in the authors' public code (GitHub sbhambr1/Trace_Check_QA):

* Classification sentence, from ``scripts/cotempqa_process_data_with_reasoning.py``
  (commit 34fc5c5f6959083d3725060b6b4aa01ee65978eb)::

      'The temporal relation between the event in question and the event in context is: {relation}.\\n'

  The relation there is simply the name of the CoTempQA split the problem
  comes from (equal / overlap / during / mix); it is not computed.
* Retrieval sentence and assembly, from the ``--include_facts`` version of the
  SFT-data script, ``scripts/old_scripts/cotempqa_create_sft_data.py``
  (commit 25f464b16c3cdfdd11c29a9aed312f48c1628041; it wrote
  ``data/cotempqa/sft_dataset_reasoning_with_facts_chat_template``; the
  ``scripts/`` copy of that path is stored only in older versions without the
  facts step)::

      answer_facts = [fact for fact in facts if any(answer in fact for answer in answers)]
      facts_text = "I need to use the following facts to answer the question: " + str(answer_facts)
      reasoning_text = reasoning_text + "" + facts_text
      "<think>" + reasoning_text + "</think>" + " " + "<answer>" + output_text + "</answer>"

  ``output_text`` is the CSV ``answer`` column, i.e. ``str(list_of_gold_answers)``,
  so gold answers are "joined" as a Python list repr (``['A', 'B']``), and the
  facts list is likewise a Python list repr. Verified against the published
  data ``data/cotempqa/sft_dataset_reasoning_with_facts_chat_template/equal_test.csv``
  (commit 084c173d19c441111fa143f22cdd18aaec065dd6), e.g.
  ``<think>The temporal relation between the event in question and the event in
  context is: equal.\\nI need to use the following facts to answer the question:
  ['Really is owned by Discovery Inc. from 2019 to 2022.']</think> <answer>['Really']</answer>``
  (the newline after the relation sentence is a real ``\\n``; one space between
  ``</think>`` and ``<answer>``).
* Incorrect traces, from ``scripts/cotempqa_create_sft_data_perturbed.py``
  (commit f16584449e7a2edb96adf230485b4ab4df8e21a6) and its output
  ``data/cotempqa/sft_dataset_reasoning_facts_perturbed_chat_template/equal_test.csv``
  (same commit): the relation is replaced by ``random.choice`` of the other
  three of ``['overlap', 'during', 'mix', 'equal']``; the facts are ONE
  ``random.choice`` among the facts that contain no gold answer (the anchor
  fact may be drawn), written as ``str(fact)`` -- a bare sentence with NO
  square brackets (``str([])`` = ``[]`` when there is none). The authors'
  ``random`` is unseeded. These traces were reused unchanged for the
  ``sft_dataset_r1_set_custom_(incorrect_)traces`` sets by
  ``scripts/cotempqa_create_r1_vanilla_custom_sft_datasets.py``
  (commit 2e1f94fbea7e849ba0c3597d50b9e6be80e3ef94).

What this module does by default (``authors_exact=False``), and why it differs:

* The sentences, the list repr of facts and answers, the ``\\n`` and the
  spacing are exactly the authors'.
* Correct retrieval facts are the anchor-event fact (the event the question
  names, "While X was ...") followed by the facts naming a gold answer that
  hold in the given relation to the anchor (``retrieval_facts``). The authors
  listed only the facts containing a gold answer as a substring, without the
  anchor fact and without a temporal check.
* Incorrect retrieval facts are as many facts as the correct list has, drawn
  from the facts that name no gold answer and are not the anchor, and are
  written in brackets like the correct list, so that the bracket and the list
  length do not give away which trace is the wrong one. A seeded
  ``random.Random`` makes them reproducible.

``build_trace(..., authors_exact=True)`` reproduces the authors' selection and
their bracket-less incorrect facts string, with the seeded generator.

``classify_relation`` computes the relation from the dates (the authors used
the split name). On the 1,652 CoTempQA problems of the equal, overlap and mix
splits it agrees with the split name on 1,633 (98.85%): equal 436/436,
overlap 648/653, mix 549/563.
"""

from __future__ import annotations

import calendar
import random
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

__all__ = [
    "RELATIONS",
    "DatedFact",
    "PartialDate",
    "anchor_clause",
    "answer_facts",
    "build_trace",
    "classify_relation",
    "find_anchor_fact",
    "format_trace",
    "interval_relation",
    "parse_date",
    "parse_fact",
    "retrieval_facts",
]

#: The authors' category list, in their order (used to draw a wrong relation).
RELATIONS: tuple[str, ...] = ("overlap", "during", "mix", "equal")

CLASSIFICATION_TEMPLATE = (
    "The temporal relation between the event in question and the event in context is: "
    "{relation}.\n"
)
RETRIEVAL_PREFIX = "I need to use the following facts to answer the question: "

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})

_DATE = r"(?:[A-Za-z]+\.?\s+\d{1,2},?\s+\d{1,4}|[A-Za-z]+\.?,?\s+\d{1,4}|\d{1,4})"
_FACT_RE = re.compile(
    rf"^(?P<text>.*?)\s+"
    rf"(?:from\s+(?P<start>{_DATE})\s+to\s+(?P<end>{_DATE})|in\s+(?P<at>{_DATE}))"
    r"\s*\.?\s*$",
    re.DOTALL,
)
_DMY_RE = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{1,4})$")
_MY_RE = re.compile(r"^([A-Za-z]+)\.?,?\s+(\d{1,4})$")
_Y_RE = re.compile(r"^(\d{1,4})$")
_QUESTION_RE = re.compile(
    r"^\s*(?:While|When|As)\s+(?P<clause>.+),\s+"
    r"(?:which|who|whom|whose|what|where|when|how)\b",
    re.IGNORECASE | re.DOTALL,
)
_RANK = {"equal": 3, "during": 2, "overlap": 1}


@dataclass(frozen=True)
class PartialDate:
    """A date kept at the precision it was given in: year, month or day."""

    year: int
    month: int | None = None
    day: int | None = None

    @property
    def precision(self) -> str:
        """'day', 'month' or 'year'."""
        if self.day is not None:
            return "day"
        return "month" if self.month is not None else "year"

    def first_day(self) -> date:
        """Earliest calendar day the date can denote."""
        return date(self.year, self.month or 1, self.day or 1)

    def last_day(self) -> date:
        """Latest calendar day the date can denote."""
        month = self.month or 12
        day = self.day or calendar.monthrange(self.year, month)[1]
        return date(self.year, month, day)


@dataclass(frozen=True)
class DatedFact:
    """One CoTempQA context fact split into its statement and its time span."""

    fact: str
    text: str
    start: PartialDate
    end: PartialDate

    def first_day(self) -> date:
        """First day of the span."""
        return self.start.first_day()

    def last_day(self) -> date:
        """Last day of the span (the end date counted at its own precision)."""
        return self.end.last_day()


def parse_date(value: str) -> PartialDate | None:
    """Parse "January 13, 2005", "September, 2004" or "2002"; None if invalid."""
    if not isinstance(value, str):
        return None
    s = value.strip().rstrip(".").strip()
    try:
        if m := _DMY_RE.match(s):
            month = _MONTHS.get(m.group(1).lower())
            if month is None:
                return None
            pd = PartialDate(int(m.group(3)), month, int(m.group(2)))
        elif m := _MY_RE.match(s):
            month = _MONTHS.get(m.group(1).lower())
            if month is None:
                return None
            pd = PartialDate(int(m.group(2)), month)
        elif m := _Y_RE.match(s):
            pd = PartialDate(int(m.group(1)))
        else:
            return None
        pd.first_day()  # validates year/month/day ranges
        pd.last_day()
    except (ValueError, TypeError):
        return None
    return pd


@lru_cache(maxsize=1 << 16)  # grading reads the same facts for every output of a problem
def parse_fact(fact: str) -> DatedFact | None:
    """Split "X ... from <date> to <date>." / "X ... in <date>." into text and span.

    Returns None (never raises) when the fact has no recognisable date or a
    date is impossible. A span that ends before it starts (one CoTempQA fact
    does) is read with its dates swapped.
    """
    if not isinstance(fact, str):
        return None
    m = _FACT_RE.match(fact.strip())
    if not m:
        return None
    if m.group("at") is not None:
        start = end = parse_date(m.group("at"))
    else:
        start, end = parse_date(m.group("start")), parse_date(m.group("end"))
    if start is None or end is None:
        return None
    if end.first_day() < start.first_day():  # data error: read as the reverse span
        start, end = end, start
    return DatedFact(fact=fact, text=m.group("text").strip(), start=start, end=end)


def _tokens(text: str) -> list[str]:
    return [t for t in (w.strip(".,;:!?\"'()").lower() for w in text.split()) if t]


def _statement(fact: str) -> str:
    parsed = parse_fact(fact)
    return parsed.text if parsed else fact.strip().rstrip(".")


def anchor_clause(question: str) -> str | None:
    """The question's anchor event: "While <clause>, which ...?" -> <clause>."""
    m = _QUESTION_RE.match(question or "")
    return m.group("clause").strip() if m else None


def find_anchor_fact(question: str, facts: list[str]) -> str | None:
    """The context fact that states the question's anchor event, or None.

    The question rephrases the fact ("While X was a member of Liberal Union" for
    "X is a member of the Liberal Union in ..."), so facts are scored by how many
    leading plus trailing words they share with the clause: the subject sits at
    the start and the object at the end, while the verb in between is reworded.
    Ties go to the fact sharing more words with the clause, then to the one
    closest to it in length.
    """
    return _anchor_fact(question, tuple(facts))


@lru_cache(maxsize=1 << 14)  # grading asks for every output of a problem, and once per gold answer
def _anchor_fact(question: str, facts: tuple[str, ...]) -> str | None:
    clause = anchor_clause(question)
    if clause is None or not facts:
        return None
    q = _tokens(clause)
    q_set = set(q)
    best: tuple[int, int, int, int] | None = None
    best_fact: str | None = None
    for i, fact in enumerate(facts):
        f = _tokens(_statement(fact))
        prefix = 0
        while prefix < min(len(q), len(f)) and q[prefix] == f[prefix]:
            prefix += 1
        suffix = 0
        while (
            suffix < min(len(q), len(f)) - prefix and q[-1 - suffix] == f[-1 - suffix]
        ):
            suffix += 1
        shared = len(q_set.intersection(f))
        key = (prefix + suffix, shared, -abs(len(f) - len(q)), -i)
        if prefix + suffix > 0 and (best is None or key > best):
            best, best_fact = key, fact
    return best_fact


def _names_strict(text: str, answer: str) -> bool:
    """Answer is the fact's subject or object, not part of a longer name."""
    a = answer.strip()
    if not a:
        return False
    if text.endswith(" " + a):
        before = text[: -len(a)].split()
        return bool(before) and before[-1][:1].islower()
    if text.startswith(a + " "):
        after = text[len(a) :].split()
        return bool(after) and after[0][:1].islower()
    return text == a


def _names_word(text: str, answer: str) -> bool:
    a = answer.strip()
    return bool(a) and re.search(rf"(?<!\w){re.escape(a)}(?!\w)", text) is not None


def answer_facts(
    facts: list[str], gold_answers: list[str], *, exclude: str | None = None
) -> dict[str, list[str]]:
    """Facts naming each gold answer, strictest match first.

    A fact names an answer if the answer is its subject or object; failing any
    such fact, a whole-word mention; failing that, a case-insensitive substring
    (the authors' rule). ``exclude`` (the anchor fact) is never returned.
    """
    pool = [f for f in facts if f != exclude]
    out: dict[str, list[str]] = {}
    for answer in gold_answers:
        found: list[str] = []
        for test in (
            lambda f, a=answer: _names_strict(_statement(f), a),
            lambda f, a=answer: _names_word(_statement(f), a),
            lambda f, a=answer: bool(a.strip()) and a.strip().lower() in f.lower(),
        ):
            found = [f for f in pool if test(f)]
            if found:
                break
        out[answer] = found
    return out


def interval_relation(
    a: DatedFact, b: DatedFact, *, convention: str = "point"
) -> str | None:
    """Relation of two dated facts: 'equal', 'during', 'overlap'; None if disjoint.

    ``convention="point"`` reads every date as its first day ("in 2013" is
    January 1, 2013), which is how CoTempQA's own labels behave (it was built
    from Wikidata timestamps): it agrees with the split names on 98.9% of the
    1,652 problems, against 94.6% for ``convention="span"``, where a date covers
    its whole year or month ("in October, 1924" = October 1-31, 1924).
    'during' means one span lies within the other, in either direction.
    """
    if convention == "point":
        a0, a1 = a.start.first_day(), a.end.first_day()
        b0, b1 = b.start.first_day(), b.end.first_day()
    elif convention == "span":
        a0, a1, b0, b1 = a.first_day(), a.last_day(), b.first_day(), b.last_day()
    else:
        raise ValueError(f"convention must be 'point' or 'span', got {convention!r}")
    if a0 == b0 and a1 == b1:
        return "equal"
    if (a0 <= b0 and b1 <= a1) or (b0 <= a0 and a1 <= b1):
        return "during"
    if a0 <= b1 and b0 <= a1:
        return "overlap"
    return None


@dataclass(frozen=True)
class _AnswerFact:
    fact: str
    point: str | None  # relation to the anchor, point convention
    span: str | None  # relation to the anchor, span convention


def _answer_relations(
    question: str, facts: list[str], gold_answers: list[str]
) -> tuple[str | None, dict[str, list[_AnswerFact]]]:
    anchor = find_anchor_fact(question, facts)
    parsed_anchor = parse_fact(anchor) if anchor else None
    per_answer: dict[str, list[_AnswerFact]] = {}
    for answer, found in answer_facts(facts, gold_answers, exclude=anchor).items():
        rels: list[_AnswerFact] = []
        for f in found:
            pf = parse_fact(f)
            if parsed_anchor is None or pf is None:
                rels.append(_AnswerFact(f, None, None))
            else:
                rels.append(
                    _AnswerFact(
                        f,
                        interval_relation(parsed_anchor, pf, convention="point"),
                        interval_relation(parsed_anchor, pf, convention="span"),
                    )
                )
        per_answer[answer] = rels
    return anchor, per_answer


def classify_relation(question: str, facts: list[str], gold_answers: list[str]) -> str:
    """Temporal relation the question asks about: 'equal', 'during', 'overlap' or 'mix'.

    Computed from the dates, not taken from the split name, so it can be
    checked against CoTempQA's labels: each gold answer's fact is compared with
    the anchor fact the question names (``interval_relation``, point
    convention; if an answer has several facts, the tightest relation wins,
    equal > during > overlap). All answers in one relation give that relation;
    answers in different relations give 'mix'. If no answer fact can be dated
    against the anchor, the span convention is tried, then 'overlap' (the
    largest CoTempQA split) is returned.
    """
    _, per_answer = _answer_relations(question, facts, gold_answers)
    for attr in ("point", "span"):
        found: set[str] = set()
        for rels in per_answer.values():
            ranked = [r for r in (getattr(x, attr) for x in rels) if r is not None]
            if ranked:
                found.add(max(ranked, key=_RANK.__getitem__))
        if found:
            return "mix" if len(found) > 1 else found.pop()
    return "overlap"


def retrieval_facts(
    question: str, facts: list[str], gold_answers: list[str], relation: str
) -> list[str]:
    """Facts needed to answer: the anchor fact, then the gold answers' facts.

    An answer's fact is kept when it stands in ``relation`` to the anchor
    ('mix': any non-disjoint relation). If none of an answer's facts does, its
    facts that meet the anchor in time at all are kept (point, then span
    convention), and if dates do not parse, all facts naming it, so every gold
    answer stays supported. After the anchor, context order is kept.
    """
    anchor, per_answer = _answer_relations(question, facts, gold_answers)
    keep: set[str] = set()
    for rels in per_answer.values():
        chosen = [
            x.fact
            for x in rels
            if x.point is not None and (relation == "mix" or x.point == relation)
        ]
        if not chosen:
            chosen = [x.fact for x in rels if x.point is not None]
        if not chosen:
            chosen = [x.fact for x in rels if x.span is not None]
        if not chosen:
            chosen = [x.fact for x in rels]
        keep.update(chosen)
    out = [anchor] if anchor is not None else []
    out += [f for f in facts if f in keep and f != anchor]
    return out


def format_trace(relation: str, facts_text: str, gold_answers: list[str]) -> str:
    """Assemble the trace exactly as the authors did (see module docstring)."""
    reasoning = CLASSIFICATION_TEMPLATE.format(relation=relation) + RETRIEVAL_PREFIX
    answer = str(list(gold_answers))
    return f"<think>{reasoning}{facts_text}</think> <answer>{answer}</answer>"


def _rng(seed: int, question: str) -> random.Random:
    # str seeds are hashed with SHA-512 by random.Random, so this is stable
    # across processes; mixing in the question decorrelates problems.
    return random.Random(f"{seed}\x1f{question}")


def build_trace(
    question: str,
    facts: list[str],
    gold_answers: list[str],
    relation: str,
    *,
    correct: bool = True,
    seed: int = 0,
    authors_exact: bool = False,
) -> str:
    """A correct or incorrect decomposition trace; the final answer is always gold.

    ``relation`` is the correct relation (the split name, as the authors used,
    or ``classify_relation``'s output). Incorrect traces draw a different
    relation from ``RELATIONS`` and distractor facts that name no gold answer,
    from ``random.Random`` seeded by ``seed`` and the question, so the same
    inputs always give the same trace. ``authors_exact=True`` reproduces the
    authors' fact selection and their bracket-less single incorrect fact.
    """
    if relation not in RELATIONS:
        raise ValueError(f"relation must be one of {RELATIONS}, got {relation!r}")
    facts = list(facts)
    answers = list(gold_answers)
    if authors_exact:
        supporting = [f for f in facts if any(a in f for a in answers)]
    else:
        supporting = retrieval_facts(question, facts, answers, relation)
    if correct:
        return format_trace(relation, str(supporting), answers)

    rng = _rng(seed, question)
    wrong_relation = rng.choice([r for r in RELATIONS if r != relation])
    if authors_exact:
        others = [f for f in facts if f not in supporting]
        return format_trace(
            wrong_relation, str(rng.choice(others)) if others else str([]), answers
        )

    anchor = find_anchor_fact(question, facts)
    lowered = [a.strip().lower() for a in answers if a.strip()]
    distractors = [
        f for f in facts if f != anchor and not any(a in f.lower() for a in lowered)
    ]
    k = min(max(1, len(supporting)), len(distractors))
    picked = set(rng.sample(range(len(distractors)), k))
    chosen = [f for i, f in enumerate(distractors) if i in picked]
    return format_trace(wrong_relation, str(chosen), answers)
