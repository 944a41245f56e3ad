"""Tests for the fine-tuning example builder (traces/sft.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from traces.decomposition import build_trace
from traces.grading.strict import grade_strict
from traces.loaders import Problem, load_babi, load_babi_authors, load_cotempqa, load_cotempqa_authors
from traces.sft import (
    SETTINGS,
    assistant_content,
    authors_system_message,
    build_examples,
    build_messages,
    build_prompt,
    write_jsonl,
)

DATA = Path(__file__).resolve().parents[2] / "traces" / "data"
AUTHORS = DATA / "trace_check_qa"
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
    g = grade_strict(incorrect, p291)
    assert not g.classification_correct and not g.retrieval_correct
    assert incorrect.endswith("<answer>['Liberal Federation']</answer>")
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


def test_babi_settings_write_the_answer_as_it_is_and_the_babi_trace() -> None:
    babi = load_babi(DATA / "babi" / "en-qa1_sample.jsonl", "en-qa1")
    with pytest.raises(ValueError, match="task must be one of"):  # the Hugging Face task names
        build_examples(babi, "decomposition_correct")
    ds = build_examples(babi, "vanilla")
    assert ds.examples[0].messages[1]["content"] == "kitchen"
    assert ds.examples[0].messages[0]["content"] == (
        "Answer the question based on the context:\nSandra journeyed to the kitchen.\n"
        "Daniel went to the garden.\nQuestion: Where is Sandra? Only return the answer.\n"
    )


def test_babi_examples_are_the_authors_training_data() -> None:
    """Prompt and correct-trace target equal the authors' test_correct_traces.csv, row for row."""
    import ast
    import csv

    problems = load_babi_authors(AUTHORS / "babi" / "test" / "test.csv", "test")
    with (AUTHORS / "babi" / "test" / "test_correct_traces.csv").open(newline="") as handle:
        published = [ast.literal_eval(row["messages"]) for row in csv.DictReader(handle)]
    ds = build_examples(problems, "decomposition_correct")
    assert [e.messages for e in ds.examples] == [
        [{"role": m["role"], "content": m["content"]} for m in turns] for turns in published
    ]


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


def test_examples_carry_the_side_they_are_given(problems: list[Problem]) -> None:
    sides = {p.source_id: "test" if i % 5 == 0 else "train" for i, p in enumerate(problems[:20])}
    for setting in ("vanilla", "decomposition_correct", "decomposition_incorrect"):
        ds = build_examples(problems[:20], setting, sides=sides)
        assert {e.source_id: e.side for e in ds.examples} == sides
        assert len(ds.side("test")) == 4 and len(ds.side("train")) == 16


def test_the_authors_prompts_are_what_their_models_saw() -> None:
    """The user and system turns of every published output's prompt (traces/data/trace_check_qa), taken
    out of the Llama 3 chat template the authors rendered them in (it trims each turn's content and
    adds its knowledge-cutoff and date lines to the system turn)."""
    import ast

    def turns(rendered: str) -> tuple[str, str]:
        system = rendered.split("<|start_header_id|>system<|end_header_id|>\n\n", 1)[1].split("<|eot_id|>")[0]
        user = rendered.split("<|start_header_id|>user<|end_header_id|>\n\n", 1)[1].split("<|eot_id|>")[0]
        return system.split("\n\n", 1)[1], user

    system_message = authors_system_message("Llama-3.2-1B-Instruct")
    outputs = AUTHORS / "cotempqa" / "outputs" / "Llama-3.2-1B-Instruct" / "vanilla" / "equal.jsonl"
    for line in outputs.read_text().splitlines():
        out = json.loads(line)
        problem = Problem("cotempqa", "equal", "x", out["question"], out["facts"], out["gold"])
        messages = build_messages(problem, style="authors", system_message=system_message, phase="evaluate")
        assert turns(out["input"]["text"]) == (messages[0]["content"], messages[1]["content"].strip())
    outputs = AUTHORS / "babi" / "outputs" / "Llama-3.2-1B-Instruct" / "vanilla" / "test.jsonl"
    for line in outputs.read_text().splitlines():
        out = json.loads(line)
        problem = Problem("babi", out["query_type"], "x", out["question"], ast.literal_eval(out["passage"]),
                          [out["gold"]])
        messages = build_messages(problem, style="authors", system_message=system_message, phase="evaluate")
        assert turns(out["input"]) == (messages[0]["content"], messages[1]["content"].strip())
    # and their CoTempQA training prompts: the CSV question column of the test split
    import csv

    path = AUTHORS / "cotempqa" / "test" / "mix_test.csv"
    with path.open(newline="") as handle:
        published = [row["question"] for row in csv.DictReader(handle)]
    problems = load_cotempqa_authors(path, "mix")
    assert [build_prompt(p.question, p.facts, style="authors") for p in problems] == published


def test_the_authors_system_messages_need_a_family() -> None:
    assert authors_system_message("Qwen3-1.7B").startswith("You are Qwen, an AI assistant")
    with pytest.raises(ValueError, match="Llama, Qwen, Gemma, Mistral"):
        authors_system_message("tiny-random")
    with pytest.raises(ValueError, match="prompt style"):
        build_prompt("q", ["f"], style="ours")


def test_write_jsonl_round_trip(tmp_path: Path, problems: list[Problem]) -> None:
    ds = build_examples(problems[:5], "decomposition_correct")
    path = tmp_path / "train.jsonl"
    assert write_jsonl(ds.examples, path) == 5
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [r["source_id"] for r in rows] == [p.source_id for p in problems[:5]]
    assert rows[0]["setting"] == "decomposition_correct" and rows[0]["subset"] == "equal"
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert rows[0]["messages"][0]["content"] == build_prompt(problems[0].question, problems[0].facts)
    assert rows[0]["side"] == "train"
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind

    buf = io.StringIO()
    assert write_jsonl(ds.examples, buf) == 5
    assert buf.getvalue() == path.read_text(encoding="utf-8")
