"""Every text and problem the project ships, for the tests that must hold over all of them: the pilot's
(the demo's) R1 traces, summaries and explanations, the paper authors' decomposition traces and their
fine-tuned model's decomposition outputs (traces/data/trace_check_qa), and the rule's decomposition
traces (traces.decomposition, traces.babi_decomposition) for every shipped CoTempQA and bAbI problem."""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import NamedTuple

from traces import loaders, sft
from traces.grading.parsing import short_answer

DATA = Path(__file__).resolve().parents[2] / "traces" / "data"
AUTHORS = DATA / "trace_check_qa"
RELATIONS = ("during", "equal", "mix", "overlap")
PILOT_KINDS = {"r1": "reasoning", "r1_summary": "summary", "posthoc_explanation": "explanation"}
MODEL = "Llama-3.2-1B-Instruct"
SETTINGS = ("decomposition_correct", "decomposition_incorrect")


class Text(NamedTuple):
    source: str  # pilot, demo-decomposition, authors-traces, authors-outputs, rule-traces
    id: str
    kind: str  # a studyapp.models.TraceKind value
    text: str
    model_answer: str  # as a stimulus stores it: parsing.short_answer of the model's answer


def pilot_rows() -> list[dict]:
    return [json.loads(line) for line in (DATA / "cotempqa_pilot" / "stimuli.jsonl").open(encoding="utf-8")]


@cache
def problems() -> tuple[loaders.Problem, ...]:
    """Every shipped problem: CoTempQA's three published relations, the authors' "during" test problems,
    and bAbI's authors' test problems."""
    cotempqa = DATA / "cotempqa"
    out = [p for r in ("equal", "mix", "overlap") for p in loaders.load_cotempqa(cotempqa / f"{r}.json", r)]
    out += loaders.load_cotempqa_authors(AUTHORS / "cotempqa" / "test" / "during_test.csv", "during")
    out += loaders.load_babi_authors(AUTHORS / "babi" / "test" / "test.csv", "test")
    return tuple(out)


def _assistant_turns(path: Path) -> Iterator[tuple[int, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8") as f:
        for row_number, row in enumerate(csv.DictReader(f)):
            yield row_number, ast.literal_eval(row["messages"])[-1]["content"]


def outputs(dataset: str, name: str, setting: str) -> list[dict]:
    path = AUTHORS / dataset / "outputs" / MODEL / setting / f"{name}.jsonl"
    return [json.loads(line) for line in path.open(encoding="utf-8")]


def texts() -> Iterator[Text]:
    """Every shipped text a simulation study could show, with the model answer it would be masked for."""
    equal = {p.source_id: p for p in problems() if p.subset == "equal"}
    for row in pilot_rows():
        answer = short_answer(row["model_answers"]["r1"])
        for key, kind in PILOT_KINDS.items():
            yield Text("pilot", f"{row['id']}/{key}", kind, row["traces"][key], answer)
        # the demo's fourth condition: the rule's trace, shown beside R1's answer
        rule = sft.assistant_content("decomposition_correct", equal[row["id"]])
        yield Text("demo-decomposition", f"{row['id']}/decomposition", "decomposition", rule, answer)
    for relation in RELATIONS:
        for suffix, label in (("", "correct"), ("_incorrect_traces", "incorrect")):
            for i, text in _assistant_turns(AUTHORS / "cotempqa" / "test" / f"{relation}_test{suffix}.csv"):
                yield Text("authors-traces", f"cotempqa-{relation}-test#{i}/{label}", "decomposition", text,
                           short_answer(text))
    for label in ("correct", "incorrect"):
        for i, text in _assistant_turns(AUTHORS / "babi" / "test" / f"test_{label}_traces.csv"):
            yield Text("authors-traces", f"babi-test-{i}/{label}", "decomposition", text, short_answer(text))
    for setting in SETTINGS:
        for dataset, names in (("cotempqa", RELATIONS), ("babi", ("test",))):
            for name in names:
                for i, row in enumerate(outputs(dataset, name, setting)):
                    text = row["prediction"]
                    yield Text("authors-outputs", f"{dataset}/{name}#{i}/{setting}", "decomposition", text,
                               short_answer(text))
    for problem in problems():
        for setting in SETTINGS:
            text = sft.assistant_content(setting, problem)
            yield Text("rule-traces", f"{problem.source_id}/{setting}", "decomposition", text,
                       short_answer(text))
