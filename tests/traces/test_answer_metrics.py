"""The paper's answer metrics (traces/grading/answers.py) and the project's strict check, on the
shapes real model outputs take.

Each case carries the grade a careful human gives the output; the strict check must agree with it
every time, and the published metric is pinned to what it does, named where it disagrees.
Data: CoTempQA in traces/data/cotempqa and bAbI in traces/data/trace_check_qa (see PROVENANCE.md).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from traces import sft
from traces.decomposition import build_trace
from traces.grading.answers import (
    answer_region,
    fact_entities,
    names_stated_answers,
    normalize,
    stated_answers,
)
from traces.grading.outputs import score_answer
from traces.grading.parsing import clean_answer, final_answer
from traces.loaders import Problem, load_babi_authors, load_cotempqa

DATA = Path(__file__).resolve().parents[2] / "traces" / "data"


@cache
def cotempqa() -> dict[str, Problem]:
    return {
        p.source_id: p
        for r in ("equal", "overlap", "mix")
        for p in load_cotempqa(DATA / "cotempqa" / f"{r}.json", r)
    }


@cache
def babi() -> list[Problem]:
    return load_babi_authors(DATA / "trace_check_qa" / "babi" / "test" / "test.csv", "test")


def _trace(p: Problem, answer: str) -> str:
    """The rule's correct trace of ``p`` with another final answer."""
    good = build_trace(p.question, p.facts, p.gold_answers, p.subset)
    return good[: good.index("<answer>")] + f"<answer>{answer}</answer>"


MIX0 = "cotempqa-mix-0"  # gold: titular bishop, Catholic bishop (an object question, S1_R1_O2)
# (problem, output, careful human's grade, the published metric's grade)
COTEMPQA_CASES = [
    # the decoded Llama output: its role line first, then the trace and the answer
    pytest.param(MIX0, lambda p: "assistant\n\n" + _trace(p, "['titular bishop', 'Catholic bishop']"),
                 True, True, id="assistant-line"),
    # Qwen3's empty reasoning block, never closed, then the answer
    pytest.param(MIX0, lambda p: "<think>\n\n['titular bishop', 'Catholic bishop']", True, True,
                 id="unclosed-think"),
    pytest.param(MIX0, lambda p: "Answer: titular bishop, Catholic bishop", True, True, id="answer-label"),
    pytest.param(MIX0, lambda p: "The answer is titular bishop and Catholic bishop.", True, True,
                 id="prose-the-answer-is"),
    pytest.param(MIX0, lambda p: "Both the titular bishop and the Catholic bishop positions.", True, True,
                 id="prose-several-entities"),
    pytest.param(MIX0, lambda p: "\\boxed{\\text{titular bishop, Catholic bishop}}", True, True, id="boxed"),
    pytest.param("cotempqa-equal-291", lambda p: "Liberal Federation (LF)", True, True, id="abbreviation"),
    pytest.param(MIX0, lambda p: "['titular bishop', 'Cath", False, False, id="truncated-list"),
    pytest.param(MIX0, lambda p: "['titular bishop']", False, False, id="one-of-two"),
    pytest.param(MIX0, lambda p: "Pope", False, False, id="wrong"),
    # where the published metric and a careful reader part
    pytest.param(MIX0, lambda p: "['titular bishop', 'Catholic bishop', 'Holy Roman Emperor']", False, True,
                 id="an-extra-wrong-object"),
    pytest.param(MIX0, lambda p: ", ".join(fact_entities(p.facts, subjects=False)), False, True,
                 id="every-object-in-the-context"),
    pytest.param(MIX0, lambda p: ", ".join(fact_entities(p.facts, subjects=True)
                                            + fact_entities(p.facts, subjects=False)), False, True,
                 id="every-entity-in-the-context"),
    pytest.param(MIX0, lambda p: _trace(p, "x")[: _trace(p, "x").index("</think>") - 5], False, True,
                 id="truncated-trace-without-answer"),
    pytest.param("cotempqa-equal-92", lambda p: "['Red']", True, False, id="gold-inside-the-question"),
    pytest.param("cotempqa-overlap-492", lambda p: "['assistant professor']", True, False,
                 id="assistant-in-the-answer"),
    pytest.param("cotempqa-equal-110", lambda p: _trace(p, str(p.gold_answers)), True, False,
                 id="escaped-no-break-space"),
]


@pytest.mark.parametrize(("source_id", "make", "human", "published"), COTEMPQA_CASES)
def test_cotempqa_output_shapes(source_id, make, human, published):
    p = cotempqa()[source_id]
    text = make(p)
    assert score_answer(text, p, as_published=False).exact_match is human, text
    assert score_answer(text, p).exact_match is published, text


BABI_CASES = [
    pytest.param("green", True, True, id="bare"),
    pytest.param(
        "assistant\n\n<think>The category ... is: basic-induction.\nI need to use the following text to "
        "answer the question: ['Greg is a lion.']</think> <answer>green</answer>", True, True,
        id="trace-and-answer",
    ),
    pytest.param("<answer>Green.</answer>", True, True, id="case-and-full-stop"),
    pytest.param("gray", False, False, id="wrong"),
    pytest.param("green or gray", False, False, id="hedged"),
    pytest.param("The answer is green.", True, False, id="prose"),
    pytest.param("Answer: green", True, True, id="answer-label"),
]


@pytest.mark.parametrize(("text", "human", "published"), BABI_CASES)
def test_babi_output_shapes(text, human, published):
    p = babi()[0]
    assert p.question == "What color is Bernhard?" and p.gold_answers == ["green"]
    assert score_answer(text, p, as_published=False).exact_match is human
    assert score_answer(text, p).exact_match is published


def test_the_published_metric_on_the_gold_answers_and_on_answers_listing_every_object():
    """Measured over CoTempQA's 1,652 problems: the rule's traces, which end in the gold answers, are
    graded wrong by the published metric on 25, and an answer listing every object named in the
    context (every candidate of an object question's type) is graded right on 1,630. The strict
    check grades the first right everywhere and the second right nowhere."""
    problems = list(cotempqa().values())
    assert len(problems) == 1652
    gold_traces = [(p, build_trace(p.question, p.facts, p.gold_answers, p.subset)) for p in problems]
    wrong = [p.source_id for p, t in gold_traces if not score_answer(t, p).exact_match]
    assert len(wrong) == 25
    assert "cotempqa-equal-10" in wrong  # "Australian Labor Party" inside the question's entity
    assert all(score_answer(t, p, as_published=False).exact_match for p, t in gold_traces)

    def every_candidate(p: Problem) -> str:
        asks_subject = "S2_R1_O1" in p.metadata["triple_element"]
        return ", ".join(dict.fromkeys(fact_entities(p.facts, subjects=asks_subject)))

    assert sum(score_answer(every_candidate(p), p).exact_match for p in problems) == 1630
    assert sum(score_answer(every_candidate(p), p, as_published=False).exact_match for p in problems) == 0


def test_answer_region_follows_the_authors_order_of_rules():
    assert answer_region("x <ANSWER>Paris</answer> y") == "paris"
    assert answer_region("<answer>a<answer>b</answer>") == "a"  # up to the next <answer>
    assert answer_region("Paris. Answer the question based on the context: ...") == "paris. "
    assert answer_region("so the answer is Paris, final answer here") == "is paris, final"
    assert answer_region("Answer: Paris") == " paris"
    assert answer_region("assistant\n\nthinking of Paris") == "\n\ning of paris"


def test_normal_form_keeps_articles_and_non_ascii_punctuation():
    assert normalize("The  Liberal-Federation.") == "the liberalfederation"
    assert normalize("\u201cRed\u201d") == "\u201cred\u201d"


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("<think>r</think> <answer>['a', 'b']</answer>", "a; b"),
        ("<think>r</think>\nThe answer is Paris.", "Paris"),
        ("$\\boxed{\\text{Paris}}$", "Paris"),
        ("Final answer: Lyon", "Lyon"),
        ("<think>The temporal relation between the event in question and the event in context is: x.", None),
        ("<think>\n\n['titular bishop']", "titular bishop"),
    ],
)
def test_the_answer_an_output_gives(text, answer):
    assert clean_answer(final_answer(text)) == answer


def test_the_answers_a_trace_states_and_whether_a_shown_answer_names_them():
    """A stimulus's decomposition trace ends in the gold answers; the answer shown beside it must name
    exactly those (R1's "None" on cotempqa-equal-62 does not); free text states no answer to compare."""
    p = cotempqa()["cotempqa-equal-62"]
    stated = stated_answers(sft.assistant_content("decomposition_correct", p))
    assert stated == ["Liberal Party of Canada"]
    assert stated_answers("Alright, so the answer: None. He left the party that day.") is None
    for shown, same in [("Liberal Party of Canada", True), ("liberal party of canada.", True),
                        ("None", False), ("Liberal Party of Canada; Brazil Union", False), ("", False)]:
        assert names_stated_answers(shown, stated, question=p.question, facts=p.facts) is same, shown
    two = cotempqa()["cotempqa-equal-61"]
    stated = stated_answers(sft.assistant_content("decomposition_correct", two))
    assert sorted(stated) == ["Catholic bishop", "titular bishop"]
    context = {"question": two.question, "facts": two.facts}
    assert names_stated_answers("Catholic bishop; titular bishop", stated, **context)
    assert not names_stated_answers("titular bishop", stated, **context)
    story = babi()[0]
    stated = stated_answers(sft.assistant_content("decomposition_correct", story))
    assert stated == [story.gold_answers[0]]
    context = {"question": story.question, "facts": story.facts}
    assert names_stated_answers(f"The {story.gold_answers[0]}.", stated, **context)
    assert not names_stated_answers("nowhere", stated, **context)
