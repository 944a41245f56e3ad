"""Importing files of model outputs made elsewhere as evaluations: matching, provenance, refusals."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from traces import loaders
from traces.authors_data import AUTHORS_DIR, import_authors_data
from traces.evaluations import EvaluationError, import_outputs, regrade
from traces.models import GRADING_VERSION, Evaluation, ModelOutput

pytestmark = pytest.mark.django_db
OUTPUTS = AUTHORS_DIR / "cotempqa" / "outputs" / "Llama-3.2-1B-Instruct"


@pytest.fixture
def authors():
    import_authors_data()


def _lines(path, n=None) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()[:n]]


def _file(lines: list[dict | str], name: str = "outputs.jsonl") -> io.BytesIO:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    stream = io.BytesIO(text.encode())
    stream.name = name
    return stream


def test_the_authors_file_is_imported_with_its_provenance(authors, django_user_model):
    user = django_user_model.objects.create_user("ana")
    path = OUTPUTS / "decomposition_correct" / "mix.jsonl"
    evaluation = import_outputs(path, dataset="cotempqa", model_name="Llama-3.2-1B-Instruct",
                                setting="decomposition_correct", subset="mix", user=user)
    assert evaluation.outputs.count() == 113
    assert (evaluation.source, evaluation.subset, evaluation.split.name) == ("import", "mix", "authors")
    assert evaluation.file_name.endswith("decomposition_correct/mix.jsonl") and evaluation.imported_by == user
    assert len(evaluation.sha256) == 64 and evaluation.created_at is not None
    first = evaluation.outputs.order_by("position").first()
    assert first.raw_text == _lines(path, 1)[0]["prediction"]
    assert first.prompt.startswith("<|begin_of_text|>")  # the prompt the model saw, from "input"
    # the same file again: refused, naming the evaluation it already is
    with pytest.raises(EvaluationError, match=f"already imported as evaluation #{evaluation.pk}"):
        import_outputs(path, dataset="cotempqa", model_name="Llama-3.2-1B-Instruct",
                       setting="decomposition_correct", subset="mix")


def test_bad_or_unmatched_lines_are_named_and_nothing_is_imported(authors):
    good = _lines(OUTPUTS / "vanilla" / "equal.jsonl", 3)
    stranger = {**good[1], "question": "While nobody was anywhere, who?"}
    no_prediction = {k: v for k, v in good[2].items() if k != "prediction"}
    upload = _file([good[0], stranger, no_prediction])
    with pytest.raises(loaders.LoadError, match="line 3: needs a 'prediction' string"):
        import_outputs(upload, dataset="cotempqa", model_name="m", setting="vanilla", subset="equal")
    with pytest.raises(loaders.LoadError, match="line 2: no stored problem with this question"):
        import_outputs(_file([good[0], stranger]), dataset="cotempqa", model_name="m", setting="vanilla",
                       subset="equal")
    with pytest.raises(loaders.LoadError, match=r"line 2: invalid JSON"):
        import_outputs(_file([good[0], "{not json"]), dataset="cotempqa", model_name="m", setting="vanilla")
    with pytest.raises(loaders.LoadError, match=r"line 2: a second output for cotempqa-equal-\d+ \(first on"):
        import_outputs(_file([good[0], good[0]]), dataset="cotempqa", model_name="m", setting="vanilla")
    # the right relation is needed when it is given
    with pytest.raises(loaders.LoadError, match="line 1: no stored problem"):
        import_outputs(_file(good[:1]), dataset="cotempqa", model_name="m", setting="vanilla",
                       subset="during")
    assert not Evaluation.objects.exists() and not ModelOutput.objects.exists()


def test_a_plain_file_names_problems_by_id_or_by_question_and_facts(authors):
    by_id = {"id": "cotempqa-during-1947", "prediction": "<answer>x</answer>"}
    during = _lines(OUTPUTS / "vanilla" / "during.jsonl", 2)
    by_text = {"question": during[1]["question"], "facts": during[1]["facts"], "prediction": "x",
               "prompt": "asked as is"}
    evaluation = import_outputs(_file([by_id, by_text]), dataset="cotempqa", model_name="vllm-run",
                                setting="vanilla")
    outputs = list(evaluation.outputs.order_by("position").select_related("problem"))
    assert outputs[0].problem.source_id == "cotempqa-during-1947"
    assert outputs[1].problem.question == during[1]["question"] and outputs[1].prompt == "asked as is"
    assert evaluation.details["formats"] == ["plain"]
    with pytest.raises(loaders.LoadError, match="no stored problem with id 'cotempqa-during-99999'"):
        import_outputs(_file([{"id": "cotempqa-during-99999", "prediction": "x"}]), dataset="cotempqa",
                       model_name="m", setting="vanilla")


def test_babi_outputs_find_their_own_rows_even_duplicated_and_in_train(authors):
    """Test rows 204 and 219 are the same problem twice, and 18 test problems are also in train.csv:
    each of the 376 outputs gets its own test problem."""
    path = AUTHORS_DIR / "babi" / "outputs" / "Llama-3.2-1B-Instruct" / "vanilla" / "test.jsonl"
    evaluation = import_outputs(path, dataset="babi", model_name="Llama-3.2-1B-Instruct", setting="vanilla")
    sources = list(evaluation.outputs.order_by("position").values_list("problem__source_id", flat=True))
    assert sources == [f"babi-test-{n}" for n in range(376)]


def test_regrading_recomputes_every_grade(authors):
    path = OUTPUTS / "decomposition_incorrect" / "equal.jsonl"
    evaluation = import_outputs(path, dataset="cotempqa", model_name="m", setting="decomposition_incorrect",
                                subset="equal")
    grades = evaluation.outputs.order_by("position").values_list("answer_correct", "retrieval_published")
    before = list(grades)
    evaluation.outputs.update(answer_correct=False, retrieval_published=False)
    Evaluation.objects.filter(pk=evaluation.pk).update(grading_version=1)
    call_command("regrade_outputs")
    evaluation.refresh_from_db()
    assert evaluation.grading_version == GRADING_VERSION
    assert list(grades.all()) == before
    assert regrade(evaluation) == 87


def test_the_command_and_the_admin_import_and_refuse_as_the_function_does(authors, admin_client, client,
                                                                          django_user_model):
    path = OUTPUTS / "vanilla" / "overlap.jsonl"
    args = [str(path), "--dataset", "cotempqa", "--model", "m", "--setting", "vanilla"]
    with pytest.raises(CommandError, match=r"Nothing was imported\..*line 1"):
        call_command("import_outputs", *args, "--relation", "equal")
    call_command("import_outputs", *args, "--relation", "overlap")
    assert Evaluation.objects.get().outputs.count() == 131

    url = reverse("admin:traces_evaluation_import")
    upload = _file(_lines(OUTPUTS / "vanilla" / "mix.jsonl"), "mix.jsonl")
    form = {"dataset": "cotempqa", "subset": "mix", "setting": "vanilla", "split": "authors"}
    response = admin_client.post(url, {**form, "file": upload, "model_name": "m2"})
    assert response.status_code == 302
    imported = Evaluation.objects.get(model_name="m2")
    assert imported.outputs.count() == 113 and imported.file_name == "mix.jsonl"
    bad = admin_client.post(url, {**form, "file": _file(["{}"]), "subset": "", "model_name": "m3"})
    assert bad.status_code == 400 and "Nothing was imported" in bad.content.decode()
    listing = admin_client.get(reverse("admin:traces_evaluation_changelist")).content.decode()
    assert "Import outputs from a file" in listing and "Add evaluation" not in listing
    # staff without the permission to add evaluations may not import
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert client.get(url).status_code == 403
