"""bAbI as the paper used it: the authors' CSV files, the decomposition rule, strict grading, SFT export.

Data: traces/data/trace_check_qa/babi (see its PROVENANCE.md).
"""

import ast
import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command

from traces.authors_data import AUTHORS_DIR, import_authors_data
from traces.babi_decomposition import TASKS, build_babi_trace
from traces.grading.strict import grade_strict
from traces.loaders import LoadError, load_babi_authors

BABI = AUTHORS_DIR / "babi"


@pytest.fixture(scope="module")
def problems():
    train = load_babi_authors(BABI / "train.csv", "train")
    return train + load_babi_authors(BABI / "test" / "test.csv", "test")


def _trace(p, **kw):
    supporting = p.metadata["supporting_facts"]
    return build_babi_trace(p.question, p.facts, p.gold_answers[0], p.subset, supporting, **kw)


def test_the_rule_grades_right_and_its_incorrect_traces_wrong_on_every_problem(problems):
    assert len(problems) == 4149 and {p.subset for p in problems} == set(TASKS)
    for p in problems:
        good = grade_strict(_trace(p), p)
        assert good.trace_correct and good.answer == p.gold_answers[0], (p.source_id, good)
        bad_text = _trace(p, correct=False)
        bad = grade_strict(bad_text, p)
        assert not bad.classification_correct, (p.source_id, bad)
        if any(f not in p.metadata["supporting_facts"] for f in p.facts):
            assert not bad.retrieval_correct, (p.source_id, bad)
        assert bad_text.endswith(f"<answer>{p.gold_answers[0]}</answer>")


def test_incorrect_traces_are_built_as_the_authors_built_theirs(problems):
    """Against test_incorrect_traces.csv: another task named, as many story sentences as supporting
    facts (fewer when the story is short), none of them supporting; the authors wrote them lower-cased."""
    with (BABI / "test" / "test_incorrect_traces.csv").open(newline="") as handle:
        published = [ast.literal_eval(r["messages"])[1]["content"] for r in csv.DictReader(handle)]
    test = [p for p in problems if p.source_id.startswith("babi-test-")]
    for p, theirs in zip(test, published, strict=True):
        ours = _trace(p, correct=False, seed=1, authors_exact=True)
        listed = [ast.literal_eval(t.split("the question: ")[1].split("</think>")[0]) for t in (ours, theirs)]
        assert len(listed[0]) == len(listed[1]), p.source_id
        supporting = {s.lower() for s in p.metadata["supporting_facts"]}
        for facts in listed:
            assert all(f == f.lower() and f not in supporting for f in facts)
        for text in (ours, theirs):
            named = text.split("question asked is: ")[1].split(".\n")[0]
            assert named in TASKS and named != p.subset
    # by default the drawn sentences keep their case, and the draw is seeded
    p = test[0]
    assert _trace(p, correct=False) == _trace(p, correct=False)
    assert any(c.isupper() for c in _trace(p, correct=False).split("the question: ")[1])


def test_malformed_authors_csv_is_refused_naming_the_line():
    text = (BABI / "test" / "test.csv").read_text()
    broken = io.StringIO(text.replace("'Greg is green.', 'Bernhard", "'Greg is blue.', 'Bernhard", 1))
    broken.name = "broken.csv"
    with pytest.raises(LoadError, match=r"broken.csv, line \d+: supporting fact not in the passages: 'Greg"):
        load_babi_authors(broken, "test")
    with pytest.raises(LoadError, match="missing column"):
        load_babi_authors(io.StringIO("passages,question\n'[]',q\n"), "test")
    with pytest.raises(ValueError, match="lower-case"):
        load_babi_authors(BABI / "test" / "test.csv", "Test File")


@pytest.mark.django_db
def test_sft_export_writes_both_sides_of_the_authors_split(tmp_path: Path):
    import_authors_data()
    call_command("export_sft", "decomposition_correct", "--dataset", "babi", "--out", str(tmp_path))
    train = [json.loads(line) for line in (tmp_path / "decomposition_correct_train.jsonl").open()]
    test = [json.loads(line) for line in (tmp_path / "decomposition_correct_test.jsonl").open()]
    assert (len(train), len(test)) == (3773, 376)
    assert {r["side"] for r in train} == {"train"} and test[0]["source_id"] == "babi-test-0"
    assert test[0]["messages"][1]["content"].startswith(
        "<think>The category of the question represents what is being asked in that question."
    )
    call_command("export_sft", "vanilla", "--dataset", "cotempqa", "--subset", "during",
                 "--out", str(tmp_path), "--prompt-style", "authors", "--model-family", "Llama")
    during = [json.loads(line) for line in (tmp_path / "vanilla_test.jsonl").open()]
    assert len(during) == 619
    assert [m["role"] for m in during[0]["messages"]] == ["system", "user", "assistant"]
    assert during[0]["messages"][1]["content"].startswith("Answer the question based on the context:\n['")
