"""MS MARCO as the paper used it: the official formats, the decomposition rule, the answer metric, the
three step definitions, and the way through the commands (import, split, fine-tuning data, outputs,
Table 1).

Data: the hand-written sample in tests/traces/data/msmarco (its README says what each query is for),
and what the authors' own scripts compute on made-up outputs for it (authors_scripts_reference.json).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
from functools import cache
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from traces.babi_decomposition import CLASSIFICATION_TEMPLATE, RETRIEVAL_PREFIX
from traces.grading.answers import msmarco_answer_score
from traces.grading.outputs import grade_outputs, score_answer
from traces.grading.steps import PublishedLookup, intended_steps, trace_region
from traces.grading.strict import grade_strict
from traces.loaders import LoadError, Problem, load, load_msmarco
from traces.models import Evaluation
from traces.models import Problem as StoredProblem
from traces.msmarco_decomposition import CATEGORIES, build_msmarco_trace, shared_words
from traces.output_files import read_output_lines

DATA = Path(__file__).parent / "data" / "msmarco"
V21, V11 = DATA / "dev_sample_v2.1.json", DATA / "dev_sample_v1.1.jsonl"
OUTPUTS = DATA / "authors_outputs.jsonl"
REFERENCE = json.loads((DATA / "authors_scripts_reference.json").read_text())


@cache
def sample() -> dict[str, Problem]:
    """The sample's problems by query id."""
    return {str(p.metadata["query_id"]): p for p in load_msmarco(V21, "dev")}


def _trace(p: Problem, **kw) -> str:
    return build_msmarco_trace(p.question, p.facts, p.gold_answers, p.subset, p.metadata["is_selected"], **kw)


def _steps(category: str, text: str, answer: str) -> str:
    """A trace in the rule's words naming ``category`` and ``text``."""
    reasoning = CLASSIFICATION_TEMPLATE.format(task=category) + RETRIEVAL_PREFIX + text
    return f"<think>{reasoning}</think> <answer>{answer}</answer>"


def _named(trace: str) -> str:
    return trace.split(RETRIEVAL_PREFIX)[1].split("</think>")[0]


def _category(trace: str) -> str:
    return trace.split("question asked is: ")[1].split(".\n")[0]


# --- loading ------------------------------------------------------------------------------------------


def test_both_official_formats_load_to_the_same_problems(tmp_path: Path) -> None:
    v21 = load_msmarco(V21, "dev")
    zipped = tmp_path / "dev_v2.1.json.gz"
    zipped.write_bytes(gzip.compress(V21.read_bytes()))
    assert load("msmarco", V11, "dev") == v21 == load_msmarco(zipped, "dev")
    assert load_msmarco(io.BytesIO(gzip.compress(V11.read_bytes())), "dev") == v21
    assert len(v21) == 11 and {p.subset for p in v21} == set(CATEGORIES)  # v1.1 writes them in lower case
    two = sample()["1003"]
    assert (two.dataset, two.subset, two.source_id) == ("msmarco", "ENTITY", "msmarco-1003")
    assert two.question == "what is the currency of japan" and two.gold_answers == ["The Japanese yen."]
    assert two.facts[0].startswith("The yen is the official") and len(two.facts) == 4
    assert two.metadata == {
        "query_id": 1003, "is_selected": [1, 0, 1, 0], "file": "dev", "well_formed_answers": [],
        "urls": ["http://example.org/money/yen", "http://example.org/cities/tokyo",
                 "http://example.org/money/banknotes", "http://example.org/geography/japan"],
    }
    plants = sample()["1009"]
    assert plants.gold_answers == ["Carbon dioxide (CO\u2082)"]  # escaped in v2.1, raw in v1.1
    assert plants.metadata["well_formed_answers"] == ["Plants absorb carbon dioxide (CO\u2082) from the air."]
    assert sample()["1006"].gold_answers == ["No Answer Present."]


def _v21(edit) -> io.StringIO:
    columns = json.loads(V21.read_text())
    edit(columns)
    stream = io.StringIO(json.dumps(columns))
    stream.name = "dev_v2.1.json"
    return stream


def _v11(edit) -> io.StringIO:
    lines = V11.read_text().splitlines()
    edit(lines)
    stream = io.StringIO("\n".join(lines) + "\n")
    stream.name = "dev_v1.1.jsonl"
    return stream


@pytest.mark.parametrize(("broken", "message"), [
    pytest.param(_v21(lambda c: c["query_type"].update({"4": "COLOUR"})),
                 r"dev_v2\.1\.json: row 4: 'query_type' must be one of DESCRIPTION", id="v2.1-type"),
    pytest.param(_v21(lambda c: c["passages"]["2"][1].update({"is_selected": "yes"})),
                 r"row 2: passage 1 needs 'passage_text' and 'url' strings and 'is_selected' 0 or 1",
                 id="v2.1-passage"),
    pytest.param(_v21(lambda c: c["answers"].update({"99": ["x"]})),
                 r"column 'answers' has a row 99 that 'query' has not", id="v2.1-stray-row"),
    pytest.param(_v21(lambda c: c["query_id"].update({"7": 1001})),
                 r"row 7: duplicate query_id 1001 \(first at row 0\)", id="v2.1-duplicate"),
    pytest.param(_v21(lambda c: c.pop("answers")),
                 r"row 0: no 'answers' \(the public eval file has none", id="v2.1-eval-file"),
    pytest.param(_v21(lambda c: c["wellFormedAnswers"].update({"3": "none"})),
                 r"row 3: 'wellFormedAnswers' must be a list of strings", id="v2.1-well-formed"),
    pytest.param(_v11(lambda lines: lines.__setitem__(2, lines[2][:-5])),
                 r"dev_v1\.1\.jsonl, line 3: invalid JSON", id="v1.1-json"),
    pytest.param(_v11(lambda lines: lines.__setitem__(4, lines[4].replace('"answers": ["Leonardo da Vinci"]',
                                                                          '"answers": []'))),
                 r"dev_v1\.1\.jsonl, line 5: 'answers' is empty", id="v1.1-no-answer"),
    pytest.param(_v11(lambda lines: lines.append(lines[0])),
                 r"line 12: duplicate query_id 1001 \(first on line 1\)", id="v1.1-duplicate"),
])
def test_a_malformed_file_is_refused_whole_naming_its_row_or_line(broken: io.StringIO, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        load_msmarco(broken, "dev")


def test_the_file_label_is_a_plain_name() -> None:
    with pytest.raises(ValueError, match="lower-case"):
        load_msmarco(V21, "Dev Set")


# --- the decomposition rule ---------------------------------------------------------------------------


def test_the_correct_trace_names_the_query_type_and_the_passage_the_annotator_used() -> None:
    s = sample()
    for p in s.values():
        trace = _trace(p)
        assert _category(trace) == p.subset
        assert trace.endswith(f"</think> <answer>{p.gold_answers[0]}</answer>")
        grade = grade_strict(trace, p)
        assert grade.trace_correct and not grade.errors and not grade.retrieval_issues, (p.source_id, grade)
        assert score_answer(trace, p, as_published=False).exact_match
    assert _named(_trace(s["1001"])) == s["1001"].facts[1]  # the one selected
    assert _named(_trace(s["1003"])) == s["1003"].facts[2]  # of two selected, the one sharing most words
    assert _named(_trace(s["1007"])) == s["1007"].facts[0]  # none selected: the one sharing most words
    assert _named(_trace(s["1006"])) == "No Answer Present."  # as the authors wrote it
    # 1005: the passage the annotator used, where the authors' rule takes the one sharing most words
    assert _named(_trace(s["1005"])) == s["1005"].facts[1]
    authors = _trace(s["1005"], authors_exact=True)
    assert _named(authors) == s["1005"].facts[0] and s["1005"].metadata["is_selected"][0] == 0
    assert not grade_strict(authors, s["1005"]).retrieval_correct


def test_an_incorrect_trace_names_another_type_and_a_passage_that_does_not_give_the_answer() -> None:
    drawn: dict[str, set[str]] = {}
    for p in sample().values():
        right = _named(_trace(p))
        for seed in range(6):
            trace = _trace(p, correct=False, seed=seed)
            assert trace == _trace(p, correct=False, seed=seed)  # reproducible from the seed
            assert _category(trace) in CATEGORIES and _category(trace) != p.subset
            named = _named(trace)
            index = p.facts.index(named)
            assert p.metadata["is_selected"][index] == 0 and named != right
            assert shared_words(p.gold_answers[0], named) < 8 and shared_words(right, named) < 8
            assert trace.endswith(f"<answer>{p.gold_answers[0]}</answer>")
            grade = grade_strict(trace, p)
            assert not grade.classification_correct and not grade.retrieval_correct, (p.source_id, seed)
            assert score_answer(trace, p, as_published=False).exact_match
            drawn.setdefault(p.source_id, set()).add(named)
    assert any(len(passages) > 1 for passages in drawn.values())  # the seed does change the draw
    # the passage that nearly copies the selected one (10 words in common) is never drawn
    penguins = sample()["1010"]
    assert shared_words(penguins.facts[0], penguins.facts[1]) >= 8
    assert penguins.facts[1] not in drawn["msmarco-1010"]
    # the authors' draw looks only at words shared with their answer passage, so it can name the
    # passage the annotator used
    mona = sample()["1005"]
    authors = {_named(_trace(mona, correct=False, seed=seed, authors_exact=True)) for seed in range(10)}
    assert mona.facts[1] in authors


# --- answers ------------------------------------------------------------------------------------------

THINK = "<think>The category of the question asked is: LOCATION.</think> "


@pytest.mark.parametrize(("prediction", "gold", "published", "strict"), [
    pytest.param(THINK + "<answer>Paris</answer>", ["Paris"], True, True, id="tagged"),
    pytest.param("assistant\n\n" + THINK + "<answer>paris.</answer>", ["Paris"], True, True, id="role-line"),
    pytest.param(THINK + "<answer>Paris, France</answer>", ["Paris"], False, False, id="more-than-gold"),
    # the region after " answer " is "is paris"; the strict check drops the label
    pytest.param("The answer is Paris", ["Paris"], False, True, id="label"),
    # two answers reached their metric as one concatenated string, which no output gives
    pytest.param(THINK + "<answer>Marie Curie</answer>", ["Marie Curie", "Marie and Pierre Curie"],
                 False, True, id="two-gold"),
    pytest.param("No Answer Present.", ["No Answer Present."], True, True, id="no-answer-bare"),
    pytest.param(THINK + "<answer>No Answer Present.</answer>", ["No Answer Present."], True, True,
                 id="no-answer-tagged"),
    # for a "No Answer Present." query the published region is the whole untagged output
    pytest.param("Answer: no answer present", ["No Answer Present."], False, True, id="no-answer-label"),
    pytest.param(THINK + "<answer>No Answer Present.</answer>", ["Paris"], False, False, id="gave-up"),
    # NFKC: the subscript two is a 2; the published metric compares code points
    pytest.param("<answer>carbon dioxide (CO2)</answer>", ["Carbon dioxide (CO\u2082)"], False, True,
                 id="nfkc"),
])
def test_the_answer_metrics_on_hand_worked_cases(prediction: str, gold: list[str], published: bool,
                                                 strict: bool) -> None:
    assert msmarco_answer_score(prediction, gold).exact_match is published
    assert msmarco_answer_score(prediction, gold, as_published=False).exact_match is strict
    problem = dataclasses.replace(sample()["1004"], gold_answers=gold)
    assert score_answer(prediction, problem).exact_match is published  # the dataset's metric is this one


def test_two_gold_answers_score_nothing_as_published() -> None:
    score = msmarco_answer_score("<answer>Marie Curie</answer>", ["Marie Curie", "Marie and Pierre Curie"])
    assert (score.exact_match, score.f1) == (False, 0.0)
    right = msmarco_answer_score("<answer>Paris</answer>", ["Paris"])
    assert (right.f1, right.precision, right.recall, right.predicted) == (1.0, 1.0, 1.0, ("paris",))


# --- steps --------------------------------------------------------------------------------------------


def test_the_published_definitions_give_what_the_authors_scripts_give() -> None:
    _, lines = read_output_lines(OUTPUTS)
    by_question = {p.question: p for p in sample().values()}
    problems = [by_question[line.question] for line in lines]
    grades = grade_outputs([(line.prediction, p) for line, p in zip(lines, problems, strict=True)], problems)
    answer = REFERENCE["evaluate_model"]
    assert round(100 * sum(g.answer.exact_match for g in grades) / len(grades), 1) == answer["acc"]
    assert round(100 * sum(g.answer.f1 for g in grades) / len(grades), 1) == answer["f1"]
    graded = [g for g in grades if not g.unevaluated]
    assert REFERENCE["accuracies"] == {
        "unevaluated": len(grades) - len(graded),
        "category_accuracy": sum(g.published.classification for g in graded),
        "fact_accuracy": sum(g.published.retrieval for g in graded),
        "answer_accuracy": sum(g.answer.exact_match for g in grades),
    }
    for matrix, (name, step) in {"matrix1": ("category", "classification"), "matrix2": ("fact", "retrieval"),
                                 "matrix3": ("trace", "trace")}.items():
        counts = {f"{a}_answer_{s}_{name}": 0 for a in ("correct", "incorrect")
                  for s in ("correct", "incorrect")}
        for g in graded:
            right = "correct" if g.answer.exact_match else "incorrect"
            counts[f"{right}_answer_{'correct' if getattr(g.published, step) else 'incorrect'}_{name}"] += 1
        assert counts == REFERENCE[matrix], matrix
    # the "No Answer Present." output of 1006 is graded against 1011's row, the first with its answers
    rows = {p.source_id: g.published_row for p, g in zip(problems, grades, strict=True)}
    assert rows["msmarco-1006"].source_id == "msmarco-1011"


def test_the_published_lookup_finds_the_first_row_with_the_same_answers() -> None:
    base = sample()["1004"]
    rows = [dataclasses.replace(base, source_id=f"msmarco-{i}", gold_answers=gold)
            for i, gold in enumerate((["Paris, France"], ["Paris"], ["Paris"], ["No Answer Present."]))]
    lookup = PublishedLookup(rows)
    # the whole gold list is searched for, not its first answer: "Paris" is not "Paris, France"
    assert lookup.find(rows[2]).source_id == "msmarco-1"  # the first row with these answers
    stranger = dataclasses.replace(base, source_id="msmarco-9", gold_answers=["Lyon"])
    assert lookup.find(stranger).source_id == "msmarco-1"  # no row has them: the previous row again
    assert lookup.find(rows[3]).source_id == "msmarco-3"


def test_the_three_step_definitions_part_where_the_rules_part() -> None:
    mona = sample()["1005"]
    ours, authors = _trace(mona), _trace(mona, authors_exact=True)
    # as intended by the authors: their answer passage, the one sharing most words with the answer
    assert intended_steps(trace_region(ours), mona).retrieval is False
    assert intended_steps(trace_region(authors), mona).retrieval is True
    assert grade_strict(ours, mona).retrieval_correct and not grade_strict(authors, mona).retrieval_correct
    # categories in any case, as the authors compared them; strict reads the word named
    lower = _steps("person", mona.facts[1], "Leonardo da Vinci")
    assert intended_steps(trace_region(lower), mona).classification
    assert grade_strict(lower, mona).classification_correct
    assert not grade_strict(_steps("PEOPLE", mona.facts[1], "x"), mona).classification_correct


def test_strict_retrieval_names_a_used_passage_and_nothing_else() -> None:
    s = sample()
    yen, fennel, water, kili = s["1003"], s["1006"], s["1007"], s["1004"]

    def retrieval(p: Problem, text: str) -> bool:
        return grade_strict(_steps(p.subset, text, p.gold_answers[0]), p).retrieval_correct

    assert retrieval(yen, yen.facts[0]) and retrieval(yen, yen.facts[2])  # either selected passage
    assert retrieval(yen, str([yen.facts[0], yen.facts[2]]))  # or both, as a list
    assert not retrieval(yen, str([yen.facts[0], yen.facts[1]]))  # not with one nobody used
    assert not retrieval(yen, "The yen is the currency of Japan.")  # nor text of its own
    assert retrieval(yen, f"'{yen.facts[0].upper()}'")  # quoted, in other case: the same passage
    assert not retrieval(yen, yen.facts[0][:60])  # a cut passage is not the passage
    assert retrieval(water, water.facts[0]) and not retrieval(water, water.facts[1])  # none selected
    for text in ("No Answer Present.", "[]", "no answer present"):  # no passage holds an answer
        assert retrieval(fennel, text), text
    grade = grade_strict(_steps(fennel.subset, fennel.facts[0], "No Answer Present."), fennel)
    assert not grade.retrieval_correct and "no passage answers the query" in grade.retrieval_issues[0]
    # no tags: the steps, then an "Answer:" line; the passage is read up to it
    untagged = (f"{CLASSIFICATION_TEMPLATE.format(task='LOCATION')}{RETRIEVAL_PREFIX}{kili.facts[1]}\n"
                "Answer: Tanzania")
    grade = grade_strict(untagged, kili)
    assert grade.trace_correct and grade.answer == "Tanzania"
    # a passage is read whole: a numbered list, line breaks and all
    steps = "1. Preheat the oven.\n2. Mix the flour and water."
    recipe = dataclasses.replace(kili, facts=[steps, "Bread rises."],
                                 metadata={**kili.metadata, "is_selected": [1, 0]})
    assert retrieval(recipe, recipe.facts[0]) and not retrieval(recipe, "Mix the flour and water.")


# --- through the commands -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_split_export_outputs_and_table_through_the_commands(tmp_path: Path, capsys) -> None:
    call_command("import_problems", "msmarco", str(V21), "--subset", "dev")
    call_command("import_problems", "msmarco", str(V11), "--subset", "dev")  # the same problems
    assert "Imported 0 problems (11 were already there)" in capsys.readouterr().out
    broken = tmp_path / "broken.jsonl"
    broken.write_text(V11.read_text().replace('"query_type": "entity"', '"query_type": "colour"', 1))
    with pytest.raises(CommandError, match=r"Nothing was imported\. .*broken\.jsonl, line 3: 'query_type'"):
        call_command("import_problems", "msmarco", str(broken), "--subset", "other")
    assert StoredProblem.objects.filter(dataset="msmarco").count() == 11

    call_command("create_split", "msmarco-dev", "--dataset", "msmarco", "--test-fraction", "0.4",
                 "--seed", "3")
    said = capsys.readouterr().out
    assert said.startswith("Split 'msmarco-dev' of msmarco: ")
    call_command("export_sft", "decomposition_incorrect", "--dataset", "msmarco", "--split", "msmarco-dev",
                 "--out", str(tmp_path))
    sides = {side: [json.loads(line) for line in (tmp_path / f"decomposition_incorrect_{side}.jsonl").open()]
             for side in ("train", "test")}
    assert len(sides["train"]) + len(sides["test"]) == 11 and sides["train"] and sides["test"]
    assert said.endswith(f"{len(sides['train'])} train, {len(sides['test'])} test problems.\n")
    for example in sides["train"] + sides["test"]:
        p = sample()[example["source_id"].removeprefix("msmarco-")]
        assert example["messages"][1]["content"] == _trace(p, correct=False)
    call_command("export_sft", "vanilla", "--dataset", "msmarco", "--subset", "PERSON", "--split",
                 "msmarco-dev", "--out", str(tmp_path), "--prompt-style", "authors", "--model-family", "Qwen")
    person = [json.loads(line) for side in ("train", "test")
              for line in (tmp_path / f"vanilla_{side}.jsonl").open()]
    assert sorted(e["source_id"] for e in person) == ["msmarco-1005", "msmarco-1008"]
    curie = next(e for e in person if e["source_id"] == "msmarco-1008")["messages"]
    assert curie[1]["content"] == (
        "Answer the question based on the context:\n" + str(sample()["1008"].facts)
        + "\nQuestion: who discovered radium\nOnly return the answer.\n"
    )
    assert curie[2]["content"] == "Marie Curie"

    call_command("import_outputs", str(OUTPUTS), "--dataset", "msmarco", "--model", "made-up",
                 "--setting", "decomposition_correct", "--split", "")
    evaluation = Evaluation.objects.get(model_name="made-up")
    assert evaluation.outputs.count() == 11 and evaluation.details["formats"] == ["authors"]
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"id": "msmarco-1004", "prediction": "<answer>Tanzania</answer>"}) + "\n")
    call_command("import_outputs", str(plain), "--dataset", "msmarco", "--model", "plain",
                 "--setting", "vanilla", "--split", "msmarco-dev")
    capsys.readouterr()
    call_command("model_table", "--dataset", "msmarco", "--json")
    table = json.loads(capsys.readouterr().out)
    (row,) = [r for r in table["rows"] if r["model"] == "made-up"]
    assert set(row["relations"]) == set(CATEGORIES)
    overall, reference = row["overall"], REFERENCE["accuracies"]
    assert overall["n"] == 11 and round(overall["answer_em"], 1) == REFERENCE["evaluate_model"]["acc"]
    assert round(overall["classification_published"] * 11 / 100) == reference["category_accuracy"]
    assert round(overall["retrieval_published"] * 11 / 100) == reference["fact_accuracy"]
    assert overall["unevaluated"] == reference["unevaluated"]
    assert row["tables"]["published"]["answer_x_trace"]["correct_answer_correct_step"] == (
        REFERENCE["matrix3"]["correct_answer_correct_trace"]
    )
    (plain_row,) = [r for r in table["rows"] if r["model"] == "plain"]
    assert plain_row["overall"]["answer_em"] == 100.0 and plain_row["overall"]["unevaluated"] == 1
