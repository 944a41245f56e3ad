"""Tests for the project's strict step grading (traces/grading/strict.py and parsing.py).

Data: the CoTempQA copy in traces/data/cotempqa/ (see its PROVENANCE.md).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from traces.decomposition import build_trace, retrieval_facts
from traces.grading.outputs import score_answer
from traces.grading.parsing import normalize_text
from traces.grading.strict import StrictGrade, grade_strict
from traces.loaders import Problem, load_cotempqa

DATA = Path(__file__).resolve().parents[2] / "traces" / "data" / "cotempqa"
SPLITS = ("equal", "overlap", "mix")
PREFIX = (
    "<think>The temporal relation between the event in question and the event in context is: {rel}.\n"
    "I need to use the following facts to answer the question: "
)


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return [p for s in SPLITS for p in load_cotempqa(DATA / f"{s}.json", s)]


def _by_id(problems: list[Problem], source_id: str) -> Problem:
    return next(p for p in problems if p.source_id == source_id)


def _grade(text: object, p: Problem, **kw) -> StrictGrade:
    return grade_strict(text, p, **kw)


def _failures(grades: list[tuple[str, StrictGrade]], want: dict[str, bool]) -> list[str]:
    return [
        f"{sid}: {g}" for sid, g in grades if any(getattr(g, k) != v for k, v in want.items())
    ]


# --- rule-built traces on every CoTempQA problem -----------------------------------------------


def test_correct_traces_grade_fully_correct_on_all_problems(problems: list[Problem]) -> None:
    traces = [(p, build_trace(p.question, p.facts, p.gold_answers, p.subset)) for p in problems]
    grades = [(p.source_id, _grade(text, p)) for p, text in traces]
    assert len(grades) == 1652
    bad = _failures(grades, {"classification_correct": True, "retrieval_correct": True})
    assert not bad, bad[:3]
    assert all(g.errors == [] and g.retrieval_issues == [] for _, g in grades)
    # the strict answer check takes the rule's (gold) answer everywhere (for the published metric's
    # 25 exceptions see test_answer_metrics.py)
    assert all(score_answer(text, p, as_published=False).exact_match for p, text in traces)


def test_incorrect_traces_grade_wrong_steps_right_answer_on_all_problems(problems: list[Problem]) -> None:
    traces = [
        (p, build_trace(p.question, p.facts, p.gold_answers, p.subset, correct=False)) for p in problems
    ]
    grades = [(p.source_id, _grade(text, p)) for p, text in traces]
    bad = _failures(grades, {"classification_correct": False, "retrieval_correct": False})
    assert not bad, bad[:3]
    assert all(score_answer(text, p, as_published=False).exact_match for p, text in traces)
    # each wrong retrieval says why
    assert all(g.retrieval_issues for _, g in grades)


def test_authors_exact_traces_on_equal_split(problems: list[Problem]) -> None:
    """The authors' own facts (answers' facts only, no anchor) pass once the anchor is not required."""
    equal = [p for p in problems if p.subset == "equal"]
    for p in equal:
        good = build_trace(p.question, p.facts, p.gold_answers, p.subset, authors_exact=True)
        bad = build_trace(p.question, p.facts, p.gold_answers, p.subset, correct=False, authors_exact=True)
        g = _grade(good, p, require_anchor=False)
        assert g.trace_correct, (p.source_id, g)
        b = _grade(bad, p, require_anchor=False)
        assert not b.classification_correct and not b.retrieval_correct, (p.source_id, b)
    # with the anchor required (the default), the authors' correct trace misses it
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade(build_trace(p.question, p.facts, p.gold_answers, "equal", authors_exact=True), p)
    assert not g.retrieval_correct
    assert g.retrieval_issues == ["the question's anchor fact is not listed"]


def test_parsed_steps_of_pilot_problem(problems: list[Problem]) -> None:
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade(build_trace(p.question, p.facts, p.gold_answers, "equal"), p)
    assert g.category == "equal"
    assert g.retrieved_facts == [
        "Henry Barwell is a member of the Liberal Union in October 16, 1923.",
        "Henry Barwell is a member of the Liberal Federation in October 16, 1923.",
    ]
    assert g.answer == "['Liberal Federation']"
    assert g.trace_correct and g.errors == []


# --- model-like variations of a correct trace ------------------------------------------------------

ANCHOR = "Henry Barwell is a member of the Liberal Union in October 16, 1923."
GOLD_FACT = "Henry Barwell is a member of the Liberal Federation in October 16, 1923."
OTHER = "Henry Barwell is a member of the The Jewish Home in May 2, 1923."


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        # no opening <think> (the chat template put it in the prompt), JSON quoting, chatter around
        (
            PREFIX.format(rel="Equal")[7:] + f'["{ANCHOR}", "{GOLD_FACT}"]</think>\n\n'
            "<answer>Liberal Federation</answer> Hope this helps!",
            (True, True),
        ),
        # text before the trace, curly quotes, punctuation and an article in the answer
        (
            "Sure.\n" + PREFIX.format(rel="equal")
            + f"[\u2018{ANCHOR}\u2019, \u2018{GOLD_FACT}\u2019]</think>"
            " <answer>The Liberal Federation.</answer>",
            (True, True),
        ),
        # facts one per line as bullets; answer after </think> without tags
        (
            PREFIX.format(rel="equal") + f"\n- {ANCHOR}\n- {GOLD_FACT}\n</think>\nLiberal Federation",
            (True, True),
        ),
        # characters whose lower-case form is longer must not shift the tags
        (
            "\u0130\u0130\u0130 " + PREFIX.format(rel="equal") + f"['{ANCHOR}', '{GOLD_FACT}']</think>"
            " <answer>['Liberal Federation']</answer>",
            (True, True),
        ),
        # right facts, wrong relation
        (PREFIX.format(rel="overlap") + f"['{ANCHOR}', '{GOLD_FACT}']</think> <answer>['Liberal Federation']"
         "</answer>", (False, True)),
        # a distractor added
        (PREFIX.format(rel="equal") + f"['{ANCHOR}', '{GOLD_FACT}', '{OTHER}']</think> <answer>x</answer>",
         (True, False)),
        # anchor missing
        (PREFIX.format(rel="equal") + f"['{GOLD_FACT}']</think> <answer>Liberal Federation</answer>",
         (True, False)),
        # an invented fact
        (PREFIX.format(rel="equal") + f"['{ANCHOR}', 'Henry Barwell likes tea.', '{GOLD_FACT}']</think>",
         (True, False)),
        # truncated inside the list
        (PREFIX.format(rel="equal") + f"['{ANCHOR}', '{GOLD_FACT[:20]}", (True, False)),
        # list not quoted
        (PREFIX.format(rel="equal") + f"[{ANCHOR}, {GOLD_FACT}]</think> <answer>Liberal</answer>",
         (True, False)),
    ],
)
def test_model_like_variants(problems: list[Problem], text: str, expect: tuple[bool, bool]) -> None:
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade(text, p)
    assert (g.classification_correct, g.retrieval_correct) == expect, g


def test_every_gold_answer_needs_its_fact(problems: list[Problem]) -> None:
    p = _by_id(problems, "cotempqa-mix-0")
    assert p.gold_answers == ["titular bishop", "Catholic bishop"]
    full = retrieval_facts(p.question, p.facts, p.gold_answers, "mix")
    assert _grade(PREFIX.format(rel="mix") + str(full) + "</think>", p).retrieval_correct
    without_catholic = [f for f in full if "Catholic bishop" not in f]
    g = _grade(PREFIX.format(rel="mix") + str(without_catholic) + "</think>", p)
    assert not g.retrieval_correct
    assert g.retrieval_issues == ["no listed fact gives the gold answer 'Catholic bishop'"]


# --- normal form of facts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("The Liberal Federation.", "liberal federation"),
        ("  titular   BISHOP ", "titular bishop"),
        ("An apple, a pear", "apple pear"),
        ("Governor-General of Joseon", "governor general of joseon"),
        ("\u201cThe Jewish Home\u201d", "jewish home"),
        ("Theatre", "theatre"),  # 'the' only as a whole word
        ("", ""),
    ],
)
def test_normalize_text(raw: str, normal: str) -> None:
    assert normalize_text(raw) == normal


# --- never raises ---------------------------------------------------------------------------------

ADVERSARIAL = [
    "",
    " ",
    "\x00",
    "\ud800 unpaired surrogate",
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<answer></answer>",
    "<think></think><answer> </answer>",
    "[" * 5000,
    "]" * 100 + "[" * 100,
    "'" * 1000 + '"' * 1000,
    "\\" * 999,
    PREFIX.format(rel=""),
    PREFIX.format(rel="eq") + "['unterminated",
    PREFIX.format(rel="during") + "['\\'']" * 300,
    "<THINK>The temporal relation between the event in question and the event in context is:\n",
    "x" * 300_000,
    "<answer>" * 1000,
    "I need to use the following facts to answer the question: " * 50,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=range(len(ADVERSARIAL)))
def test_adversarial_strings_graded_wrong_with_a_reason(problems: list[Problem], text: str) -> None:
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade(text, p)
    assert not (g.classification_correct or g.retrieval_correct or score_answer(text, p).exact_match)
    assert g.errors, g


@pytest.mark.parametrize("value", [None, 42, b"<think>", ["a"], object()])
def test_non_string_inputs(problems: list[Problem], value: object) -> None:
    g = _grade(value, _by_id(problems, "cotempqa-equal-291"))
    assert not g.trace_correct
    assert any("not a string" in e for e in g.errors)


def test_random_fragments_never_raise(problems: list[Problem]) -> None:
    """Seeded fuzzing (hypothesis is not installed): shuffled pieces of real traces."""
    p = _by_id(problems, "cotempqa-mix-0")
    good = build_trace(p.question, p.facts, p.gold_answers, "mix")
    pieces = [*good.split(" "), "<think>", "</think>", "<answer>", "</answer>"]
    pieces += ["[", "]", "'", '"', "\n", "\\"]
    rng = random.Random(20250519)
    for _ in range(300):
        text = "".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(0, 60)))
        cut = text[: rng.randint(0, len(text))]
        for t in (text, cut, good[: rng.randint(0, len(good))]):
            g = _grade(t, p)
            assert isinstance(g, StrictGrade)
            if not g.trace_correct:
                assert g.errors or g.retrieval_issues or not g.classification_correct


def test_truncated_correct_trace_loses_steps(problems: list[Problem]) -> None:
    p = _by_id(problems, "cotempqa-equal-291")
    good = build_trace(p.question, p.facts, p.gold_answers, "equal")
    cut = good[: good.index("</think>") - 5]
    g = _grade(cut, p)
    assert g.classification_correct and not g.retrieval_correct
    assert not score_answer(cut, p, as_published=False).exact_match  # it gave no answer
    assert score_answer(cut, p).exact_match  # the published metric reads the listed fact as the answer
    assert "retrieval list is never closed (truncated?)" in g.errors
    assert "no final answer found" in g.errors




# --- output shapes real models write, graded as a careful reader grades them --------------------------

STEPS = (
    "The temporal relation between the event in question and the event in context is: equal.\n"
    "I need to use the following facts to answer the question: "
)


@pytest.mark.parametrize(
    "text",
    [
        STEPS + f"['{ANCHOR}', '{GOLD_FACT}']\nAnswer: Liberal Federation",
        STEPS + f"\n{ANCHOR}\n{GOLD_FACT}\n\n**Final answer:** Liberal Federation",
    ],
)
def test_both_steps_then_an_answer_line_without_tags(problems: list[Problem], text: str) -> None:
    """The README says the strict parser reads "Answer:"; an output that writes both steps and then
    "Answer: <gold>" got no answer at all, and its answer line was read as a listed fact."""
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade(text, p)
    assert g.answer == "Liberal Federation"
    assert g.retrieved_facts == [ANCHOR, GOLD_FACT] and g.trace_correct, g
    assert score_answer(text, p, as_published=False).exact_match
    wrong = text.replace("Liberal Federation", "Liberal Union")
    assert not score_answer(wrong, p, as_published=False).exact_match


def test_an_answer_line_inside_an_unclosed_thought_is_not_the_answer(problems: list[Problem]) -> None:
    """A truncated thought's "Answer:" line may be a guess it goes on to revise: not read as the answer."""
    p = _by_id(problems, "cotempqa-equal-291")
    g = _grade("<think>" + STEPS + f"['{ANCHOR}', '{GOLD_FACT}']\nAnswer: Liberal Federation? Wait", p)
    assert g.answer is None and "<think> is never closed (truncated?)" in g.errors


@pytest.mark.parametrize(
    ("source_id", "sentence", "right"),
    [
        ("cotempqa-equal-291", "The temporal relation between the two events is equal.", True),
        ("cotempqa-equal-291", "The relation between the event in question and the context is overlap.",
         False),
        ("cotempqa-overlap-14", "The temporal relation between the question's event and the context is "
         "overlap.", True),
    ],
)
def test_a_reworded_relation_sentence_is_read(problems: list[Problem], source_id: str, sentence: str,
                                              right: bool) -> None:
    """The authors' intended check accepts a relation named in other words; "not found" was wrong."""
    p = _by_id(problems, source_id)
    g = _grade(f"<think>{sentence}\nI need to use the following facts to answer the question: []</think>", p)
    assert g.category == sentence.rsplit(" ", 1)[1].rstrip(".")
    assert g.classification_correct is right
    assert "classification step not found" not in g.errors


@pytest.mark.parametrize(
    ("source_id", "written", "right"),
    [
        ("cotempqa-overlap-14", "E\u0301cole polytechnique", True),  # a decomposed accent
        ("cotempqa-equal-23", "Anti\u2013Revolutionary Party", True),  # an en dash for the hyphen
        ("cotempqa-equal-23", "Anti\u2011Revolutionary\u00a0Party", True),  # no-break hyphen and space
        ("cotempqa-equal-23", "Revolutionary Party", False),
    ],
)
def test_answers_are_compared_in_one_unicode_form(problems: list[Problem], source_id: str, written: str,
                                                  right: bool) -> None:
    """The fact matcher normalises Unicode; the strict answer check did not, so the gold answer written
    with an en dash or a decomposed accent was wrong."""
    p = _by_id(problems, source_id)
    assert score_answer(f"<answer>{written}</answer>", p, as_published=False).exact_match is right
