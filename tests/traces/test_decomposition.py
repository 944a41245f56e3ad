"""Tests for the CoTempQA decomposition traces (arXiv 2505.13792 format).

Data: the copy shipped at traces/data/cotempqa/ (see its PROVENANCE.md).
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from traces.decomposition import (
    RELATIONS,
    PartialDate,
    anchor_clause,
    build_trace,
    classify_relation,
    find_anchor_fact,
    interval_relation,
    parse_date,
    parse_fact,
    retrieval_facts,
)

DATA = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa"
SPLITS = ("equal", "overlap", "mix")

# Measured agreement of classify_relation with the split each problem comes
# from: 1,633 / 1,652 = 98.85% (equal 436/436, overlap 648/653, mix 549/563).
# The test allows a small margin below that figure.
MEASURED_AGREEMENT = 1633 / 1652
AGREEMENT_FLOOR = 0.98

TRACE_RE = re.compile(
    r"^<think>The temporal relation between the event in question and the event "
    r"in context is: (?P<relation>\w+)\.\n"
    r"I need to use the following facts to answer the question: (?P<facts>.*)"
    r"</think> <answer>(?P<answer>.*)</answer>$",
    re.DOTALL,
)


def _load(split: str) -> list[dict]:
    with (DATA / f"{split}.json").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


@pytest.fixture(scope="module")
def problems() -> list[tuple[str, dict]]:
    return [(split, row) for split in SPLITS for row in _load(split)]


def _by_index(split: str, index: int) -> dict:
    return next(r for r in _load(split) if r["index"] == index)


# --- exact format ---------------------------------------------------------------


def test_exact_trace_on_pilot_problem_equal_291() -> None:
    """Pilot item cotempqa-equal-291 (Henry Barwell), character for character."""
    r = _by_index("equal", 291)
    trace = build_trace(r["question"], r["facts"], r["answer"], "equal")
    assert trace == (
        "<think>The temporal relation between the event in question and the event "
        "in context is: equal.\n"
        "I need to use the following facts to answer the question: "
        "['Henry Barwell is a member of the Liberal Union in October 16, 1923.', "
        "'Henry Barwell is a member of the Liberal Federation in October 16, 1923.']"
        "</think> <answer>['Liberal Federation']</answer>"
    )


def test_authors_exact_reproduces_published_correct_trace() -> None:
    """Same string as the authors' published SFT data.

    From sbhambr1/Trace_Check_QA, data/cotempqa/sft_dataset_reasoning_with_facts_
    chat_template/equal_test.csv at commit 084c173d19c441111fa143f22cdd18aaec065dd6.
    """
    r = _by_index("equal", 395)
    assert r["question"].startswith("While HGTV was owned by Discovery Inc.")
    trace = build_trace(
        r["question"], r["facts"], r["answer"], "equal", authors_exact=True
    )
    assert trace == (
        "<think>The temporal relation between the event in question and the event "
        "in context is: equal.\nI need to use the following facts to answer the "
        "question: ['Really is owned by Discovery Inc. from 2019 to 2022.']</think> "
        "<answer>['Really']</answer>"
    )


def test_authors_exact_incorrect_uses_one_bare_fact() -> None:
    """The authors wrote str(random_fact): one fact, no brackets."""
    r = _by_index("equal", 291)
    trace = build_trace(
        r["question"],
        r["facts"],
        r["answer"],
        "equal",
        correct=False,
        seed=3,
        authors_exact=True,
    )
    m = TRACE_RE.match(trace)
    assert m is not None
    assert m["relation"] in RELATIONS and m["relation"] != "equal"
    assert m["facts"] in r["facts"]
    assert "Liberal Federation" not in m["facts"]
    assert m["answer"] == "['Liberal Federation']"


def test_multiple_gold_answers_joined_as_python_list() -> None:
    r = _by_index("mix", 0)
    assert len(r["answer"]) > 1
    trace = build_trace(r["question"], r["facts"], r["answer"], "mix")
    assert trace.endswith("<answer>" + str(r["answer"]) + "</answer>")
    assert trace.endswith("<answer>['titular bishop', 'Catholic bishop']</answer>")


def test_unknown_relation_rejected() -> None:
    r = _by_index("equal", 291)
    with pytest.raises(ValueError):
        build_trace(r["question"], r["facts"], r["answer"], "before")


# --- whole-dataset properties ------------------------------------------------------


def test_every_trace_matches_the_format(problems) -> None:
    for split, r in problems:
        for correct in (True, False):
            trace = build_trace(
                r["question"], r["facts"], r["answer"], split, correct=correct
            )
            m = TRACE_RE.match(trace)
            assert m is not None, trace
            assert m["facts"].startswith("[") and m["facts"].endswith("]")


def test_correct_retrieval_names_every_gold_answer(problems) -> None:
    for split, r in problems:
        facts = retrieval_facts(r["question"], r["facts"], r["answer"], split)
        assert facts, r["question"]
        assert all(f in r["facts"] for f in facts)
        assert facts[0] == find_anchor_fact(r["question"], r["facts"])
        for answer in r["answer"]:
            assert any(answer in f for f in facts), (r["question"], answer)
        trace = build_trace(r["question"], r["facts"], r["answer"], split)
        assert TRACE_RE.match(trace)["facts"] == str(facts)


def test_incorrect_trace_has_wrong_relation_unsupporting_facts_and_gold_answer(
    problems,
) -> None:
    for split, r in problems:
        trace = build_trace(
            r["question"], r["facts"], r["answer"], split, correct=False, seed=7
        )
        m = TRACE_RE.match(trace)
        assert m["relation"] in RELATIONS and m["relation"] != split
        retrieval = m["facts"].lower()
        for answer in r["answer"]:
            assert answer.lower() not in retrieval, (r["question"], answer)
        anchor = find_anchor_fact(r["question"], r["facts"])
        assert anchor not in m["facts"]
        assert m["answer"] == str(r["answer"])


def test_incorrect_traces_are_reproducible_and_seed_dependent(problems) -> None:
    sample = problems[::25]
    differs = 0
    for split, r in sample:
        args = (r["question"], r["facts"], r["answer"], split)
        a = build_trace(*args, correct=False, seed=11)
        assert a == build_trace(*args, correct=False, seed=11)
        differs += a != build_trace(*args, correct=False, seed=12)
    assert differs > len(sample) // 2


def test_wrong_relations_cover_all_alternatives(problems) -> None:
    seen = {
        TRACE_RE.match(
            build_trace(r["question"], r["facts"], r["answer"], s, correct=False)
        )["relation"]
        for s, r in problems
        if s == "equal"
    }
    assert seen == {"overlap", "during", "mix"}


def test_classifier_agrees_with_cotempqa_split_labels(problems) -> None:
    agree = sum(
        classify_relation(r["question"], r["facts"], r["answer"]) == split
        for split, r in problems
    )
    rate = agree / len(problems)
    assert len(problems) == 1652
    assert rate >= AGREEMENT_FLOOR, f"{rate:.4f} (measured {MEASURED_AGREEMENT:.4f})"
    equal = [r for s, r in problems if s == "equal"]
    assert all(
        classify_relation(r["question"], r["facts"], r["answer"]) == "equal"
        for r in equal
    )


def test_anchor_found_for_every_problem(problems) -> None:
    for _, r in problems:
        assert anchor_clause(r["question"]) is not None
        assert find_anchor_fact(r["question"], r["facts"]) is not None


def test_every_fact_in_the_dataset_parses(problems) -> None:
    for _, r in problems:
        for fact in r["facts"]:
            assert parse_fact(fact) is not None, fact


# --- dates --------------------------------------------------------------------------


def test_parse_fact_keeps_precision() -> None:
    f = parse_fact(
        "Louis-Albert Vachon holds the position of High Representative of the Union "
        "for Foreign Affairs and Security Policy from January 13, 2005 to June 20, 2006."
    )
    assert f.text.endswith("Security Policy")
    assert f.start == PartialDate(2005, 1, 13) and f.end == PartialDate(2006, 6, 20)
    assert f.start.precision == "day"

    month = parse_fact(
        "Henry Barwell is a member of the National Liberal Party in October, 1924."
    )
    assert month.text == "Henry Barwell is a member of the National Liberal Party"
    assert month.start.precision == "month"
    assert (month.first_day(), month.last_day()) == (
        date(1924, 10, 1),
        date(1924, 10, 31),
    )

    year = parse_fact("TVNorge is owned by Discovery Inc. in 2013.")
    assert year.start.precision == "year"
    assert (year.first_day(), year.last_day()) == (date(2013, 1, 1), date(2013, 12, 31))

    mixed = parse_fact("X attended Y from January, 2000 to 2004.")
    assert mixed.start == PartialDate(2000, 1) and mixed.end == PartialDate(2004)


@pytest.mark.parametrize(
    "fact",
    [
        "",
        "No date at all.",
        "X works for Y in Smarch 3, 2001.",
        "X works for Y in February 30, 2001.",
        "X works for Y from June, 2005 to.",
        "X works for Y in 0.",
        "in 2001",
    ],
)
def test_unparseable_facts_return_none(fact: str) -> None:
    assert parse_fact(fact) is None


def test_inverted_span_is_swapped_not_dropped() -> None:
    # One CoTempQA fact (equal split) runs "from March 23, 2021 to March 22, 2021".
    f = parse_fact("X works for Y from 2005 to 2001.")
    assert f is not None
    assert (f.start, f.end) == (PartialDate(2001), PartialDate(2005))


def test_parse_date_rejects_garbage() -> None:
    assert parse_date("September, 2004") == PartialDate(2004, 9)
    assert parse_date("13th of Never") is None
    assert parse_date("") is None


def test_interval_relation_conventions() -> None:
    anchor = parse_fact("A works for B from 2005 to 2013.")
    other = parse_fact("A works for C from October, 2011 to June, 2013.")
    # CoTempQA reads "2013" as its first day, so C outlasts B: overlap.
    assert interval_relation(anchor, other) == "overlap"
    # Read as whole periods, C lies within B.
    assert interval_relation(anchor, other, convention="span") == "during"
    same = parse_fact("A works for D from 2005 to 2013.")
    assert interval_relation(anchor, same) == "equal"
    later = parse_fact("A works for E in 2020.")
    assert interval_relation(anchor, later) is None


def test_unparseable_dates_do_not_crash() -> None:
    question = (
        "While Ann was working for Acme, which employer did Ann work for concurrently?"
    )
    facts = [
        "Ann works for Acme sometime in the nineties.",
        "Ann works for Globex in Smarch, 1999.",
        "Ann works for Initech.",
    ]
    gold = ["Globex"]
    assert classify_relation(question, facts, gold) in RELATIONS
    got = retrieval_facts(question, facts, gold, "overlap")
    assert got == [facts[0], facts[1]]
    for correct in (True, False):
        trace = build_trace(question, facts, gold, "overlap", correct=correct)
        assert TRACE_RE.match(trace)["answer"] == "['Globex']"
    wrong = TRACE_RE.match(build_trace(question, facts, gold, "overlap", correct=False))
    assert wrong["facts"] == str([facts[2]])


def test_degenerate_inputs_do_not_crash() -> None:
    assert find_anchor_fact("Who?", []) is None
    assert retrieval_facts("Who?", [], ["x"], "equal") == []
    trace = build_trace("Who?", [], ["x"], "equal", correct=False)
    assert TRACE_RE.match(trace)["facts"] == "[]"
    assert classify_relation("Who?", ["garbage"], ["x"]) in RELATIONS
