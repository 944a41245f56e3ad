"""Tests for the fine-tuning example builder (traces/sft.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from traces.decomposition import build_trace
from traces.grading import grade_trace
from traces.loaders import Problem, load_babi, load_cotempqa
from traces.sft import (
    SETTINGS,
    assign_split,
    assistant_content,
    build_examples,
    build_prompt,
    split_problems,
    write_jsonl,
)

DATA = Path(__file__).resolve().parents[2] / "traces" / "data"
SPLITS = ("equal", "overlap", "mix")

# The prompt R1 saw for pilot item cotempqa-equal-291, copied from the authors' published
# data/cotempqa/sft_dataset_r1_traces/equal_test.csv (see /work/shared/data/cotempqa_pilot/README.md).
PROMPT_291 = (
    "Answer the question based on the context:\n"
    "Henry Barwell holds the position of member of the Australian Senate from December 18, 1925 to "
    "March 22, 1928.\n"
    "Henry Barwell is a member of the National Liberal Party in October, 1924.\n"
    "Henry Barwell is a member of the Nippon Ishin no Kai in November 18, 1928.\n"
    "Henry Barwell is a member of the Liberal Federation in October 16, 1923.\n"
    "Henry Barwell is a member of the Liberal Union in October 16, 1923.\n"
    "Henry Barwell is a member of the The Jewish Home in May 2, 1923.\n"
    "Henry Barwell is a member of the Self-Defence of the Republic of Poland in May 13, 1926.\n"
    "Henry Barwell is a member of the Liberty, Unity and Solidarity Party from 1924 to 1925.\n"
    "Henry Barwell is a member of the Ecuadorian Socialist Party in February 24, 1925.\n"
    "Henry Barwell is a member of the New Party Daichi in May 18, 1924.\n"
    "Question: While Henry Barwell was a member of Liberal Union, which political party did Henry "
    "Barwell belong to during the identical time period? Only return the answer.\n"
)


@pytest.fixture(scope="module")
def problems() -> list[Problem]:
    return [p for s in SPLITS for p in load_cotempqa(DATA / "cotempqa" / f"{s}.json", s)]


@pytest.fixture(scope="module")
def p291(problems: list[Problem]) -> Problem:
    return next(p for p in problems if p.source_id == "cotempqa-equal-291")


def test_exact_prompt_on_real_problem(p291: Problem) -> None:
    assert build_prompt(p291.question, p291.facts) == PROMPT_291


def test_six_settings_assistant_contents(p291: Problem) -> None:
    assert SETTINGS == (
        "vanilla", "decomposition_correct", "decomposition_incorrect", "r1", "r1_summary", "posthoc"
    )
    trace = "Okay, the Liberal Union and the Liberal Federation share October 16, 1923."
    got = {s: assistant_content(s, p291, trace=trace) for s in SETTINGS}
    assert got["vanilla"] == "['Liberal Federation']"
    assert got["decomposition_correct"] == (
        "<think>The temporal relation between the event in question and the event "
        "in context is: equal.\n"
        "I need to use the following facts to answer the question: "
        "['Henry Barwell is a member of the Liberal Union in October 16, 1923.', "
        "'Henry Barwell is a member of the Liberal Federation in October 16, 1923.']"
        "</think> <answer>['Liberal Federation']</answer>"
    )
    incorrect = got["decomposition_incorrect"]
    assert incorrect == build_trace(p291.question, p291.facts, p291.gold_answers, "equal", correct=False)
    g = grade_trace(
        incorrect, question=p291.question, facts=p291.facts, gold_answers=p291.gold_answers, relation="equal"
    )
    assert g.answer_correct and not g.classification_correct and not g.retrieval_correct
    for s in ("r1", "r1_summary", "posthoc"):
        assert got[s] == f"<think>{trace}</think> <answer>['Liberal Federation']</answer>"
    # the authors' r1 sets ended in R1's own answer string; the caller can pass it
    assert assistant_content("r1", p291, trace="t", answer="Liberal Federation") == (
        "<think>t</think> <answer>Liberal Federation</answer>"
    )
    assert assistant_content("vanilla", p291, answer="Liberal Federation") == "Liberal Federation"


def test_trace_settings_need_a_trace(p291: Problem) -> None:
    for s in ("r1", "r1_summary", "posthoc"):
        with pytest.raises(ValueError, match="needs a trace"):
            assistant_content(s, p291)
        with pytest.raises(ValueError, match="needs traces"):
            build_examples([p291], s)
    with pytest.raises(ValueError, match="setting must be one of"):
        assistant_content("cot", p291)


def test_decomposition_settings_refuse_babi_problems() -> None:
    babi = load_babi(DATA / "babi" / "en-qa1_sample.jsonl", "en-qa1")
    with pytest.raises(ValueError, match="CoTempQA decomposition"):
        build_examples(babi, "decomposition_correct")
    ds = build_examples(babi, "vanilla")
    assert ds.examples[0].messages[1]["content"] == "['kitchen']"
    assert ds.examples[0].messages[0]["content"] == (
        "Answer the question based on the context:\nSandra journeyed to the kitchen.\n"
        "Daniel went to the garden.\nQuestion: Where is Sandra? Only return the answer.\n"
    )


def test_problems_without_trace_are_skipped_and_counted(problems: list[Problem]) -> None:
    subset = problems[:10]
    traces = {p.source_id: f"reasoning {i}" for i, p in enumerate(subset) if i % 3}
    traces[subset[1].source_id] = "   "  # blank counts as missing
    traces[subset[2].source_id] = None  # type: ignore[assignment]
    ds = build_examples(subset, "posthoc", traces=traces)
    assert ds.skipped == [subset[i].source_id for i in (0, 1, 2, 3, 6, 9)]
    assert ds.n_skipped == 6
    assert [e.source_id for e in ds.examples] == [subset[i].source_id for i in (4, 5, 7, 8)]
    assert ds.examples[0].messages[1]["content"].startswith("<think>reasoning 4</think> <answer>")
    assert build_examples(subset, "decomposition_correct").n_skipped == 0


def test_split_disjoint_reproducible_and_shared_by_settings(problems: list[Problem]) -> None:
    sides = split_problems(problems, test_fraction=0.2, seed=0)
    test_ids = {sid for sid, side in sides.items() if side == "test"}
    train_ids = {sid for sid, side in sides.items() if side == "train"}
    assert not test_ids & train_ids
    assert test_ids | train_ids == {p.source_id for p in problems}
    # about 20% (binomial sd on 1,652 problems is ~1 point)
    assert 0.16 < len(test_ids) / len(problems) < 0.24
    assert split_problems(problems, test_fraction=0.2, seed=0) == sides
    assert split_problems(list(reversed(problems)), test_fraction=0.2, seed=0) == sides
    assert split_problems(problems, test_fraction=0.2, seed=1) != sides

    # the same problems are test problems in every setting
    traces = {p.source_id: "some reasoning" for p in problems}
    for setting in SETTINGS:
        ds = build_examples(problems, setting, traces=traces, test_fraction=0.2, seed=0)
        assert {e.source_id for e in ds.split("test")} == test_ids, setting
        assert {e.source_id for e in ds.split("train")} == train_ids, setting


def test_split_stable_when_problems_are_added(problems: list[Problem]) -> None:
    equal_only = [p for p in problems if p.split == "equal"]
    small = split_problems(equal_only, seed=7)
    large = split_problems(problems, seed=7)
    assert all(large[sid] == side for sid, side in small.items())
    assert assign_split("cotempqa-equal-0", test_fraction=0.0) == "train"
    assert assign_split("cotempqa-equal-0", test_fraction=1.0) == "test"
    with pytest.raises(ValueError):
        assign_split("x", test_fraction=1.5)
    with pytest.raises(ValueError, match="duplicate source_id"):
        split_problems([problems[0], problems[0]])


def test_write_jsonl_round_trip(tmp_path: Path, problems: list[Problem]) -> None:
    ds = build_examples(problems[:5], "decomposition_correct")
    path = tmp_path / "train.jsonl"
    assert write_jsonl(ds.examples, path) == 5
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["source_id"] for r in rows] == [p.source_id for p in problems[:5]]
    assert rows[0]["setting"] == "decomposition_correct" and rows[0]["subset"] == "equal"
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert rows[0]["messages"][0]["content"] == build_prompt(problems[0].question, problems[0].facts)
    assert rows[0]["split"] == assign_split(problems[0].source_id)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    buf = io.StringIO()
    assert write_jsonl(ds.examples, buf) == 5
    assert buf.getvalue() == path.read_text(encoding="utf-8")
