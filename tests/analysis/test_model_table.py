"""Table 1 (traces/grading/table.py, analysis/model_table.py): figures worked out by hand, and the
page, the API and the CSV that show it."""

import csv
import io

import pytest
from django.urls import reverse

from traces.grading.table import GradedRecord, model_rows
from traces.models import GRADING_VERSION, Checkpoint, Evaluation, Job, ModelOutput, Problem

DEFINITIONS = ("published", "authors", "strict")


def _record(subset: str, answer: bool, classification: bool, retrieval: bool, unevaluated: bool = False,
            strict_retrieval: bool | None = None) -> GradedRecord:
    steps = {d: (classification, retrieval) for d in DEFINITIONS}
    if strict_retrieval is not None:
        steps["strict"] = (classification, strict_retrieval)
    if unevaluated:
        steps = {d: (False, False) for d in DEFINITIONS}
    return GradedRecord("m", "s", subset, answer, 1.0 if answer else 0.0, answer, unevaluated, steps)


def test_figures_and_tables_worked_out_by_hand():
    records = [
        # equal: 3 correct traces (2 with correct answers), 1 incorrect trace with a correct answer
        _record("equal", True, True, True),
        _record("equal", True, True, True, strict_retrieval=False),
        _record("equal", False, True, True),
        _record("equal", True, False, True),
        # during: one output without a trace, one with a wrong trace and a wrong answer
        _record("during", False, False, False, unevaluated=True),
        _record("during", False, False, True),
    ]
    (row,) = model_rows(records)
    equal, during = row["relations"]["equal"], row["relations"]["during"]
    assert equal["n"] == 4 and equal["answer_em"] == 75.0
    assert (equal["classification_published"], equal["retrieval_published"]) == (75.0, 100.0)
    assert equal["retrieval_strict"] == 75.0 and equal["unevaluated"] == 0
    # unevaluated outputs count as not right in step accuracies
    assert during["n"] == 2 and during["answer_em"] == 0.0
    assert (during["classification_authors"], during["retrieval_authors"]) == (0.0, 50.0)
    assert during["unevaluated"] == 1
    overall, mean = row["overall"], row["mean"]
    assert overall["n"] == 6 and overall["answer_em"] == pytest.approx(50.0)
    assert overall["retrieval_published"] == pytest.approx(100 * 5 / 6)
    assert mean["answer_em"] == pytest.approx((75.0 + 0.0) / 2)  # unweighted over the relations
    assert mean["retrieval_published"] == pytest.approx((100.0 + 50.0) / 2)
    assert mean["n"] == 6 and mean["unevaluated"] == 1
    trace = row["tables"]["published"]["answer_x_trace"]
    assert trace == {"correct_answer_correct_step": 2, "correct_answer_incorrect_step": 1,
                     "incorrect_answer_correct_step": 1, "incorrect_answer_incorrect_step": 1}
    assert row["tables"]["published"]["p_correct_trace_and_correct_answer"] == pytest.approx(100 * 2 / 5)
    assert row["tables"]["published"]["p_correct_answer_given_correct_trace"] == pytest.approx(100 * 2 / 3)
    assert row["tables"]["strict"]["answer_x_trace"]["correct_answer_correct_step"] == 1
    retrieval = row["tables"]["published"]["answer_x_retrieval"]
    assert retrieval["correct_answer_correct_step"] == 3 and retrieval["incorrect_answer_correct_step"] == 2


def test_without_any_trace_step_figures_are_undefined_not_zero():
    (row,) = model_rows([_record("equal", True, False, False, unevaluated=True)])
    assert row["overall"]["classification_published"] is None and row["overall"]["answer_em"] == 100
    assert row["tables"]["authors"]["p_correct_answer_given_correct_trace"] is None


@pytest.fixture
def evaluated(db):
    evaluation = Evaluation.objects.create(model_name="m1", setting="vanilla", dataset="t", source="import",
                                           file_name="out.jsonl", sha256="ab" * 32)
    grades = [(True, True, True), (True, True, True), (False, True, True), (True, False, True),
              (False, False, False)]
    for n, (answer, classification, retrieval) in enumerate(grades):
        problem = Problem.objects.create(dataset="t", subset="equal", source_id=str(n), question="q?",
                                         facts=["f"], gold_answers=["a"])
        steps = {f"{step}_{d}": value for d in DEFINITIONS
                 for step, value in (("classification", classification), ("retrieval", retrieval))}
        ModelOutput.objects.create(
            evaluation=evaluation, problem=problem, position=n, raw_text="r", answer_correct=answer,
            answer_f1=float(answer), answer_precision=float(answer), answer_recall=float(answer),
            answer_correct_strict=answer, unevaluated=False, **steps,
        )
    return evaluation


def test_the_newest_evaluation_of_a_model_counts_once_per_problem(evaluated):
    from analysis.data import model_table_data

    again = Evaluation.objects.create(model_name="m1", setting="vanilla", dataset="t", source="import")
    problem = Problem.objects.get(dataset="t", source_id="4")  # wrong before, right now
    ModelOutput.objects.create(
        evaluation=again, problem=problem, position=0, raw_text="r", answer_correct=True, answer_f1=1.0,
        answer_precision=1.0, answer_recall=1.0, answer_correct_strict=True, unevaluated=False,
        **{f"{s}_{d}": True for d in DEFINITIONS for s in ("classification", "retrieval")},
    )
    table = model_table_data("t")
    (row,) = table["rows"]
    assert row["overall"]["n"] == 5 and row["overall"]["answer_em"] == 80.0
    assert [e["pk"] for e in table["evaluations"]] == [evaluated.pk, again.pk]
    Evaluation.objects.filter(pk=again.pk).update(grading_version=1)  # graded by an older definition
    table = model_table_data("t")
    assert table["outdated"] == 1 and table["rows"][0]["overall"]["answer_em"] == 60.0
    # a job's outputs count once the job has succeeded, not while it runs
    Evaluation.objects.filter(pk=again.pk).update(grading_version=GRADING_VERSION)
    checkpoint = Checkpoint.objects.create(name="c", path="/nowhere")
    job = Job.objects.create(kind=Job.Kind.EVALUATE, status=Job.Status.RUNNING, checkpoint=checkpoint,
                             setting="vanilla")
    Evaluation.objects.filter(pk=again.pk).update(job=job, source="job")
    assert model_table_data("t")["rows"][0]["overall"]["answer_em"] == 60.0
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert model_table_data("t")["rows"][0]["overall"]["answer_em"] == 80.0


def test_the_page_json_and_csv_show_the_same_table(evaluated, admin_client):
    url = reverse("analysis:model-table")
    page = admin_client.get(url, {"dataset": "t"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "m1 \u00b7 vanilla" in html and "out.jsonl" in html and "Steps, published" in html
    table = admin_client.get(url, {"dataset": "t", "format": "json"}).json()
    trace = table["rows"][0]["tables"]["published"]["answer_x_trace"]
    assert (trace["correct_answer_correct_step"], trace["test"]["test"]) == (2, "fisher")
    assert trace["test"]["p"] == pytest.approx(1.0)
    response = admin_client.get(url, {"dataset": "t", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["relation"] for r in rows] == ["equal", "overall", "mean"]
    assert float(rows[1]["answer_em"]) == 60.0
    assert rows[1]["published_answer_x_trace_correct_answer_correct_step"] == "2"
    assert admin_client.get(url, {"format": "xml"}).status_code == 400


def test_the_api_serves_it_to_researchers(evaluated, client, django_user_model):
    url = reverse("api:model-table")
    assert client.get(url, {"dataset": "t"}).status_code in (401, 403)
    staff = django_user_model.objects.create_user("r", password="pw", is_staff=True)
    client.force_login(staff)
    table = client.get(url, {"dataset": "t"}).json()
    assert table["rows"][0]["model"] == "m1" and "published" in table["definitions"]
    csv_response = client.get(url, {"dataset": "t", "format": "csv"})
    assert csv_response.status_code == 200
    assert csv_response.content.startswith(b"dataset,model,setting,relation")
    bad = client.get(url, {"dataset": "nope"})
    assert bad.status_code == 404 and "Unknown dataset 'nope'" in bad.json()["detail"]
