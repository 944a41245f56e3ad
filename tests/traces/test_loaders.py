"""Tests for the QA problem loaders (traces/loaders.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from traces.loaders import LOADERS, LoadError, Problem, load, load_babi, load_cotempqa

DATA = Path(__file__).resolve().parents[2] / "traces" / "data"
COTEMPQA = DATA / "cotempqa"
BABI = DATA / "babi" / "en-qa1_sample.jsonl"

GOOD_ROW = {
    "index": 7,
    "triple_element": "S1_R1_O2",
    "question": "While A was in X, where was B?",
    "facts": ["A is in X in 2001.", "B is in Y in 2001."],
    "answer": ["Y"],
}


@pytest.mark.parametrize(("split", "count"), [("equal", 436), ("overlap", 653), ("mix", 563)])
def test_real_cotempqa_files_load(split: str, count: int) -> None:
    problems = load_cotempqa(COTEMPQA / f"{split}.json", split)
    assert len(problems) == count
    assert len({p.source_id for p in problems}) == count
    assert all(p.dataset == "cotempqa" and p.subset == split for p in problems)
    assert all(p.question and p.facts and p.gold_answers for p in problems)


def test_cotempqa_problem_fields() -> None:
    first = load_cotempqa(COTEMPQA / "mix.json", "mix")[0]
    assert first.source_id == "cotempqa-mix-0"
    assert first.question.startswith("While Louis-Albert Vachon was holding the position of auxiliary bishop")
    assert len(first.facts) == 10
    assert first.facts[0].startswith("Louis-Albert Vachon holds the position of High Representative")
    assert first.gold_answers == ["titular bishop", "Catholic bishop"]
    assert first.metadata == {"index": 0, "triple_element": "S1_R1_O2", "line": 1}


def test_registry_and_file_objects() -> None:
    assert {"cotempqa", "babi_qa", "msmarco"} <= set(LOADERS)
    path = COTEMPQA / "equal.json"
    via_registry = load("cotempqa", path, "equal")
    with path.open(encoding="utf-8") as fh:
        via_text_file = load_cotempqa(fh, "equal")
    with path.open("rb") as fh:
        via_binary_file = load_cotempqa(fh, "equal")
    assert via_registry == via_text_file == via_binary_file == load_cotempqa(str(path), "equal")
    with pytest.raises(ValueError, match="unknown format 'hotpotqa'"):
        load("hotpotqa", path, "dev")
    with pytest.raises(ValueError, match="relation must be one of"):
        load_cotempqa(path, "equals")


def test_babi_fixture() -> None:
    problems = load_babi(BABI, "en-qa1")
    assert [(p.question, p.gold_answers) for p in problems] == [
        ("Where is Sandra?", ["kitchen"]),
        ("Where is Sandra?", ["bedroom"]),
        ("Where is Daniel?", ["bathroom"]),
        ("Where is John?", ["garden"]),
        ("Where is Mary?", ["kitchen"]),
        ("Where is Daniel?", ["hallway"]),
    ]
    third = problems[2]
    # context: every statement before the question, earlier questions left out
    assert third.facts == [
        "Sandra journeyed to the kitchen.",
        "Daniel went to the garden.",
        "John moved to the office.",
        "Sandra went back to the bedroom.",
        "Mary travelled to the hallway.",
        "Daniel journeyed to the bathroom.",
    ]
    assert third.metadata["fact_ids"] == ["1", "2", "4", "5", "7", "8"]
    assert third.metadata["supporting_ids"] == ["8"]
    assert third.metadata["supporting_facts"] == ["Daniel journeyed to the bathroom."]
    assert problems[0].facts == ["Sandra journeyed to the kitchen.", "Daniel went to the garden."]
    assert problems[3].facts == ["Mary went to the office.", "John travelled to the garden."]  # new story
    assert problems[5].facts == ["Daniel moved to the hallway."]
    assert [p.source_id for p in problems] == [
        "babi-en-qa1-1-3", "babi-en-qa1-1-6", "babi-en-qa1-1-9",
        "babi-en-qa1-2-3", "babi-en-qa1-2-6", "babi-en-qa1-3-2",
    ]
    assert all(p.dataset == "babi" and p.subset == "en-qa1" for p in problems)
    assert load("babi_qa", BABI, "en-qa1") == problems


def test_babi_type_names_accepted() -> None:
    story = {
        "story": {
            "id": ["1", "2"],
            "type": ["context", "question"],
            "text": ["A is here.", "Where is A?"],
            "supporting_ids": [[], ["1"]],
            "answer": ["", "here"],
        }
    }
    [p] = load_babi(io.StringIO(json.dumps(story)), "t")
    assert p.facts == ["A is here."] and p.gold_answers == ["here"]


# --- malformed input ------------------------------------------------------------------------------


def _write(tmp_path: Path, lines: list[str], name: str = "bad.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _row(**changes: object) -> str:
    row = dict(GOOD_ROW, **changes)
    return json.dumps({k: v for k, v in row.items() if v is not ...})


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ('{"index": 3, "question": ', "invalid JSON"),
        ("[1, 2, 3]", "expected a JSON object, got list"),
        (_row(question=...), "missing key 'question'"),
        (_row(answer=...), "missing key 'answer'"),
        (_row(facts="A is in X."), "'facts' must be list, got str"),
        (_row(answer=["Y", 3]), "'answer'[1] must be str, got int"),
        (_row(index="7"), "'index' must be int, got str"),
        (_row(index=True), "'index' must be int, got bool"),
        (_row(answer=[]), "'answer' is empty"),
        (_row(triple_element=5), "'triple_element' must be str"),
    ],
)
def test_cotempqa_malformed_line_raises_naming_file_and_line(
    tmp_path: Path, bad_line: str, reason: str
) -> None:
    good = [_row(index=1), "", _row(index=2)]  # a blank line still counts as a line
    path = _write(tmp_path, [*good, bad_line, _row(index=4)])
    with pytest.raises(LoadError) as info:
        load_cotempqa(path, "equal")
    err = info.value
    assert err.line == 4 and err.source == str(path)
    assert str(err).startswith(f"{path}, line 4: ")
    assert reason in str(err)


def test_cotempqa_duplicate_index(tmp_path: Path) -> None:
    path = _write(tmp_path, [_row(index=1), _row(index=1)])
    with pytest.raises(LoadError, match=r"line 2: duplicate index 1 \(first on line 1\)"):
        load_cotempqa(path, "overlap")


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    second = json.dumps(dict(GOOD_ROW, index=2, question="Caf\u00e9?"), ensure_ascii=False)
    path.write_bytes((_row(index=1) + "\n" + second + "\n").encode("latin-1"))
    with pytest.raises(LoadError, match=r"line 2: not valid UTF-8"):
        load_cotempqa(path, "equal")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"nope\.json: cannot read file"):
        load_cotempqa(tmp_path / "nope.json", "equal")


def test_stream_name_in_message() -> None:
    with pytest.raises(LoadError, match=r"^<stream>, line 1: invalid JSON"):
        load_cotempqa(io.StringIO("{"), "equal")


def test_all_or_nothing(tmp_path: Path) -> None:
    """Good lines before a bad one are not returned: the call raises and yields nothing."""
    path = _write(tmp_path, [_row(index=i) for i in range(50)] + ["not json"])
    result = None
    with pytest.raises(LoadError, match="line 51"):
        result = load_cotempqa(path, "equal")
    assert result is None
    assert isinstance(load_cotempqa(_write(tmp_path, [_row(index=1)], "ok.jsonl"), "equal")[0], Problem)


def _story(**changes: object) -> str:
    story = {"id": ["1", "2"], "type": [0, 1], "text": ["A is here.", "Where is A?"],
             "supporting_ids": [[], ["1"]], "answer": ["", "here"]}
    story.update(changes)
    return json.dumps({"story": {k: v for k, v in story.items() if v is not ...}})


@pytest.mark.parametrize(
    ("bad_line", "reason"),
    [
        ("{oops", "invalid JSON"),
        (json.dumps({"stories": {}}), "missing key 'story'"),
        (json.dumps({"story": []}), "'story' must be dict, got list"),
        (_story(answer=...), "missing key 'answer'"),
        (_story(text="A is here."), "'text' must be list, got str"),
        (_story(type=[0]), "story lists differ in length"),
        (_story(type=[0, 2]), "story line 1: 'type' must be 0 (context) or 1 (question)"),
        (_story(type=[0, "query"]), "'type' must be 0 (context) or 1 (question)"),
        (_story(text=["A is here.", None]), "story line 1: 'text' must be str, got NoneType"),
        (_story(answer=["", ["here"]]), "'answer' must be str, got list"),
        (_story(answer=["", " "]), "question '2' has no answer"),
        (_story(supporting_ids=[[], "1"]), "'supporting_ids' must be a list of str"),
        (_story(id=["1", "1"]), "duplicate id '1'"),
    ],
)
def test_babi_malformed_line_raises(tmp_path: Path, bad_line: str, reason: str) -> None:
    path = _write(tmp_path, [_story(), _story(), bad_line])
    with pytest.raises(LoadError) as info:
        load_babi(path, "en-qa1")
    assert info.value.line == 3
    assert str(info.value).startswith(f"{path}, line 3: ")
    assert reason in str(info.value)


def test_load_error_is_value_error() -> None:
    assert issubclass(LoadError, ValueError)


def test_a_nul_character_is_refused_naming_its_line() -> None:
    """PostgreSQL text cannot hold NUL: the import must say where, not fail in the database."""
    good = {"index": 1, "triple_element": "S1_R1_O2", "question": "Q?", "facts": ["a"], "answer": ["x"]}
    bad = {**good, "index": 2, "facts": ["a\u0000b"]}
    stream = io.StringIO(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(LoadError, match=r"line 2: text contains a NUL character"):
        load_cotempqa(stream, "equal")
