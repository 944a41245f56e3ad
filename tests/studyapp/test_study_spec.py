"""The study as one file (studyapp.spec): the paper's study goes out and comes back the same, the
example and the test studies' files import ready to run, and every bad file is refused with its field
and line, changing nothing, from the command line, the admin and not for a viewer; the API serves the
file to researchers."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from jsonschema import Draft202012Validator

from analysis.models import AnalysisPlan
from analysis.registration import register
from analysis.study_spec import PLAN_FIELDS
from studyapp import spec
from studyapp.demo import seed_demo
from studyapp.models import (
    DEFAULT_CONFIDENCE_ANCHORS,
    Condition,
    Item,
    Stimulus,
    StimulusTrace,
    Study,
    TraceVersion,
)
from studyapp.spec import sections
from studyapp.spec.layout import STUDY_GROUPS, schema
from studyapp.study_setup import readiness_problems

pytestmark = pytest.mark.django_db

SPECS = Path(__file__).parent / "data" / "specs"
BETWEEN, WITHIN = SPECS / "three-between.json", SPECS / "four-within.json"
ROWS = (Study, Condition, Item, Stimulus, StimulusTrace, TraceVersion, AnalysisPlan)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in ROWS}


def paper_study() -> Study:
    """The demo study (the paper's four conditions, its questionnaire and problems) with what the demo
    lacks: a practice problem and a registered analysis plan."""
    study = seed_demo().study
    practice = Stimulus.objects.create(
        study=study, code="practice-1", is_practice=True, context_facts=["Ana lived in Lyon from 2001."],
        question="Where did Ana live in 2002?", gold_answers=["Lyon"], model_answer="Lyon",
    )
    for condition in study.conditions.all():
        StimulusTrace.objects.create(
            stimulus=practice, condition=condition.code, text=f"{condition.code}: Lyon.",
            provenance={"source": "typed in", "kind": condition.trace_kind},
        )
    Study.objects.filter(pk=study.pk).update(practice_trial=True)
    plan = AnalysisPlan.objects.create(study=study, primary_outcomes=["faithfulness"], notes=HYPOTHESES)
    register(plan)
    study.refresh_from_db()
    return study


HYPOTHESES = "H1: r1 > posthoc."


def aside(document: dict) -> dict:
    """The document less what differs between copies by design: the slug, and the registration (a time
    stamp of the platform the file was written on; the copy's plan is a draft)."""
    document = json.loads(json.dumps(document))
    document.pop("slug")
    document["analysis_plan"].pop("registered_at")
    document["analysis_plan"].pop("registration", None)
    return document


# --- the round trip ----------------------------------------------------------------------------------


def test_the_paper_study_exported_imported_and_exported_again_is_the_same_file(tmp_path):
    original = paper_study()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    call_command("study_spec", "export", "demo", "--output", str(first))
    call_command("study_spec", "import", str(first), "--slug", "demo-copy")
    call_command("study_spec", "export", "demo-copy", "--output", str(second))

    exported, again = json.loads(first.read_text()), json.loads(second.read_text())
    assert aside(exported) == aside(again)
    assert exported["analysis_plan"]["registered_at"] and again["analysis_plan"]["registered_at"] is None
    assert exported["analysis_plan"]["registration"]["preregistered"]
    assert "registration" not in again["analysis_plan"]
    assert exported["practice_problems"][0]["code"] == "practice-1"
    assert set(exported["stimuli"][0]["texts"]) == {"decomposition", "r1", "r1_summary", "posthoc"}

    copy = Study.objects.get(slug="demo-copy")
    assert copy.status == Study.Status.DRAFT and readiness_problems(copy) == []
    assert list(copy.stimuli.order_by("id").values_list("code", flat=True)) == list(
        original.stimuli.order_by("id").values_list("code", flat=True)
    )
    # every text with its provenance and its first version; no link to this platform's traces
    texts = StimulusTrace.objects.filter(stimulus__study=copy)
    assert texts.count() == original.stimuli.count() * 4 and not texts.filter(reference_trace__isnull=False)
    numbers = TraceVersion.objects.filter(trace__in=texts).values_list("number", flat=True)
    assert sorted(numbers) == [1] * texts.count()
    r1 = texts.get(stimulus__code="cotempqa-equal-291", condition="r1")
    there = StimulusTrace.objects.get(stimulus__study=original, stimulus__code=r1.stimulus.code,
                                      condition="r1")
    assert r1.provenance == there.provenance
    assert r1.provenance["model"] and r1.provenance["source"]
    # the plan comes as set, as a draft: a registration is this platform's time stamp
    plan = AnalysisPlan.objects.get(study=copy)
    assert plan.primary_outcomes == ["faithfulness"] and plan.notes == HYPOTHESES and not plan.registered_at


def test_the_import_says_the_plan_must_be_registered_again(tmp_path, capsys):
    paper_study()
    path = tmp_path / "study.json"
    call_command("study_spec", "export", "demo", "--output", str(path))
    call_command("study_spec", "import", str(path), "--slug", "again")
    out = capsys.readouterr()
    assert "Created study 'again' (a draft) with 4 conditions, 14 items and 16 stimuli." in out.out
    assert "here it is a draft: register it before the study opens" in out.err


def test_export_writes_to_standard_output_and_names_an_unknown_study(capsys):
    seed_demo()
    call_command("study_spec", "export", "demo")
    assert json.loads(capsys.readouterr().out)["format"] == "trace-study/1"
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("study_spec", "export", "nope")


# --- the schema, the example and the test studies -------------------------------------------------------


def test_the_schema_is_valid_and_describes_every_part_the_platform_writes():
    Draft202012Validator.check_schema(schema())
    own = {"format", "slug", "title", "translations", "conditions", "items", "stimuli", "practice_problems",
           *STUDY_GROUPS}
    assert set(schema()["properties"]) == own | {section.key for section in sections.registered()}
    # a field added to the analysis plan must be added to the schema too, or its files would be refused
    plan = schema()["$defs"]["analysis_plan"]["properties"]
    assert set(plan) == {*PLAN_FIELDS, "registered_at", "registration"}


def test_the_example_is_the_paper_study_and_imports_ready_to_run():
    example = json.loads(spec.EXAMPLE_PATH.read_text())
    demo = spec.export_study(seed_demo().study)
    for part in ("design", "conditions", "items"):
        assert example[part] == demo[part], part
    assert [s["code"] for s in example["stimuli"]] == [s["code"] for s in demo["stimuli"]]
    assert example["design"] == {"assignment": "between", "target_per_condition": 25,
                                 "trials_per_participant": 5, "trial_task": "rating",
                                 "truth_definition": "strict",
                                 "confidence_anchors": DEFAULT_CONFIDENCE_ANCHORS,
                                 "simulation_feedback": False, "step_rating": False,
                                 "exact_balance": False}
    call_command("study_spec", "import", str(spec.EXAMPLE_PATH), "--slug", "paper")
    assert readiness_problems(Study.objects.get(slug="paper")) == []


def test_the_simulation_example_imports_ready_to_run_and_round_trips(tmp_path):
    """The paper's study as a simulation task: the demo's problems with their candidates and masked texts
    (manage.py prepare_simulation), less the one whose answer names two candidates."""
    path = spec.EXAMPLE_PATH.with_name("simulation-study.json")
    call_command("study_spec", "import", str(path))
    study = Study.objects.get(slug="paper-simulation")
    assert study.trial_task == "simulation" and readiness_problems(study) == []
    assert all(s.answer_candidates for s in study.stimuli.all())
    assert spec.dumps(spec.export_study(study)) == path.read_text()


def test_the_verification_example_imports_ready_to_run_and_round_trips():
    """A verification study of the authors' Llama-3.2-1B-Instruct outputs (manage.py stimuli_from_outputs):
    its own decomposition trace against its answer alone, 4 stimuli in each cell of correct or incorrect
    trace x right or wrong answer under the published grades, each with the evaluation its grades come
    from."""
    path = spec.EXAMPLE_PATH.with_name("verification-study.json")
    call_command("study_spec", "import", str(path))
    study = Study.objects.get(slug="verification-example")
    assert study.trial_task == "verification" and readiness_problems(study) == []
    stimuli = study.stimuli.all()
    cells = Counter((s.trace_correct("published"), s.answer_correct("published")) for s in stimuli)
    assert cells == {(True, True): 4, (True, False): 4, (False, True): 4, (False, False): 4}
    assert all(s.grades["source"].startswith("evaluation #") for s in study.stimuli.all())
    assert set(study.conditions.values_list("trace_kind", flat=True)) == {"decomposition", "answer_only"}
    assert spec.dumps(spec.export_study(study)) == path.read_text()


@pytest.mark.parametrize(("path", "design", "conditions"), [(BETWEEN, "between", 3), (WITHIN, "within", 4)])
def test_the_test_studies_files_import_ready_to_run(path, design, conditions):
    call_command("study_spec", "import", str(path))
    study = Study.objects.get(slug=path.stem)
    assert study.design == design and study.conditions.count() == conditions
    assert readiness_problems(study) == []
    assert study.items.filter(scale_points=7).exists() and study.items.filter(reverse_keyed=True).exists()


def test_a_file_without_stimuli_is_a_design_to_fill_in_the_admin(capsys, tmp_path):
    document = json.loads(BETWEEN.read_text())
    document["stimuli"] = []
    path = tmp_path / "design.json"
    path.write_text(spec.dumps(document))
    call_command("study_spec", "import", str(path))
    assert Study.objects.get(slug="three-between").status == Study.Status.DRAFT
    assert "The file has no stimuli yet: build them in the admin from traces or" in capsys.readouterr().err


# --- bad files -----------------------------------------------------------------------------------------


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """The line (from 1) of the nth occurrence of ``needle``."""
    position = -1
    for _ in range(nth):
        position = text.index(needle, position + 1)
    return text.count("\n", 0, position) + 1


def unknown_key(d: dict) -> None:
    d["design"]["colour"] = "blue"


def duplicate_codes(d: dict) -> None:
    d["items"][1]["code"] = "clarity_1"


def missing_text(d: dict) -> None:
    del d["stimuli"][4]["texts"]["summary"]


def anchors_wrong(d: dict) -> None:
    d["items"][1]["anchors"] = d["items"][1]["anchors"][:5]


def unbalanced(d: dict) -> None:
    d["design"]["target_per_condition"] = 5


def cannot_run(d: dict) -> None:
    d["design"].update(assignment="within", trials_per_participant=4)


def attention_off_scale(d: dict) -> None:
    d["items"][3].update(scale_points=5, anchors=["1", "2", "3", "4", "5"], expected_value=6)


def unknown_task(d: dict) -> None:
    d["design"]["trial_task"] = "guessing"


def grade_not_a_truth_value(d: dict) -> None:
    d["stimuli"][1]["grades"] = {"answer_strict": "yes"}


def four_confidence_anchors(d: dict) -> None:
    d["design"]["confidence_anchors"] = ["No", "Little", "Some", "Much"]


def text_for_no_condition(d: dict) -> None:
    d["stimuli"][0]["texts"]["bullets"] = {"text": "- Lyon"}


#: (how the good file is spoilt, the field, where its line is (a text and which occurrence), what is said)
BAD_FILES = [
    (unknown_key, "design.colour", ('"colour"', 1),
     "Unknown key 'colour'; the keys here are assignment, target_per_condition, trials_per_participant, "
     "trial_task, truth_definition, confidence_anchors, simulation_feedback, step_rating, exact_balance."),
    (unknown_task, "design.trial_task", ('"trial_task"', 1),
     'Must be one of "rating", "verification", "simulation", not "guessing".'),
    (grade_not_a_truth_value, "stimuli[1].grades.answer_strict", ('"answer_strict"', 1),
     'Must be true or false or null, not a string: "yes".'),
    (four_confidence_anchors, "design.confidence_anchors", ('"confidence_anchors"', 1),
     "At least 5 entries; this has 4."),
    (duplicate_codes, "items[1].code", ('"code": "clarity_1"', 2),
     "The item code 'clarity_1' is used twice (first at items[0]); codes must be unique."),
    (missing_text, "stimuli[4].texts", ('"texts"', 5),
     "Problem 'ana-turku' has no text for the condition summary: every condition needs one."),
    (anchors_wrong, "items[1].anchors", ('"anchors"', 2),
     "Item 'clarity_2': Give exactly 7 non-empty labels, one per scale point."),
    (unbalanced, "design.target_per_condition", ('"target_per_condition"', 1),
     "exactly equal at multiples of 2 participants per condition (4 or 6 near 5)"),
    (cannot_run, "design", ('"design"', 1),
     "the trials per participant (4) must be a multiple of the 3 conditions: 3, 6 would work."),
    (attention_off_scale, "items[3].expected_value", ('"expected_value": 6', 1),
     "Item 'attention_check_1': A point of the scale, 1 to 5."),
    (text_for_no_condition, "stimuli[0].texts.bullets", ('"bullets"', 1),
     "There is no condition 'bullets'; the conditions are steps, summary, answer_only."),
]


BAD_FILE_NAMES = [bad[0].__name__ for bad in BAD_FILES]


def spoilt(spoil) -> str:
    document = json.loads(BETWEEN.read_text())
    spoil(document)
    return spec.dumps(document)


@pytest.mark.parametrize(("spoil", "field", "where", "says"), BAD_FILES, ids=BAD_FILE_NAMES)
def test_a_bad_file_is_refused_at_its_field_and_line_and_nothing_is_made(tmp_path, spoil, field, where, says):
    text = spoilt(spoil)
    path = tmp_path / "bad.json"
    path.write_text(text)
    before = counts()
    with pytest.raises(CommandError) as refused:
        call_command("study_spec", "import", str(path))
    message = str(refused.value)
    assert message.startswith(f"Nothing was imported: 1 problem in {path}.")
    assert f"bad.json: {field} (line {line_of(text, *where)}): " in message and says in message
    assert counts() == before


def test_invalid_json_is_refused_with_its_line(tmp_path):
    lines = BETWEEN.read_text().splitlines(keepends=True)
    broken = line_of(BETWEEN.read_text(), '"target_per_condition"')
    lines[broken - 1] = lines[broken - 1].replace(",", "")  # the next key then has no comma before it
    path = tmp_path / "broken.json"
    path.write_text("".join(lines))
    with pytest.raises(CommandError, match=rf"line {broken + 1}: Not valid JSON: Expecting ',' delimiter"):
        call_command("study_spec", "import", str(path))
    assert not Study.objects.exists()


def test_a_study_that_could_not_run_is_rolled_back_whole(tmp_path):
    """What only the readiness check sees (here: checks asked for, none among the items) undoes the rows
    the import had made."""
    document = json.loads(BETWEEN.read_text())
    document["items"] = [item for item in document["items"] if item["construct"] != "attention_check"]
    path = tmp_path / "no-check.json"
    path.write_text(spec.dumps(document))
    with pytest.raises(CommandError, match="The study could not run: The study asks for 1 attention checks"):
        call_command("study_spec", "import", str(path))
    assert counts() == dict.fromkeys(counts(), 0)


def test_an_existing_slug_is_refused_and_the_study_left_as_it_was(tmp_path):
    call_command("study_spec", "import", str(BETWEEN))
    before = counts()
    with pytest.raises(CommandError, match=r"slug \(line 3\): A study 'three-between' exists already"):
        call_command("study_spec", "import", str(BETWEEN))
    with pytest.raises(CommandError, match=r"slug: A study 'three-between' exists already"):
        call_command("study_spec", "import", str(WITHIN), "--slug", "three-between")
    assert counts() == before


def test_a_slug_taken_while_the_file_was_being_checked_is_refused_too(monkeypatch):
    """Two imports of one file at once: the second's check saw the slug free, its insert finds it taken."""
    from studyapp.spec import importing

    checked_while_free = spec.read(BETWEEN.read_text())
    call_command("study_spec", "import", str(BETWEEN))
    before = counts()
    monkeypatch.setattr(importing, "read", lambda source, slug=None: checked_while_free)
    with pytest.raises(spec.InvalidSpec, match="A study 'three-between' was made while this one was being"):
        spec.import_study(BETWEEN.read_text())
    assert counts() == before


def test_a_plan_whose_tests_do_not_fit_is_refused_at_its_field(tmp_path):
    document = json.loads(BETWEEN.read_text())
    document["analysis_plan"] = {"primary_test": "welch", "pairwise": "dunn"}
    text = spec.dumps(document)
    with pytest.raises(spec.InvalidSpec) as refused:
        spec.import_study(text)
    (error,) = refused.value.errors
    assert (error.path, error.line) == ("analysis_plan.pairwise", line_of(text, '"pairwise"'))
    assert not Study.objects.exists()


def test_an_empty_text_is_refused_but_in_a_condition_that_shows_the_answer_alone():
    document = json.loads(spec.EXAMPLE_PATH.with_name("verification-study.json").read_text())
    code = document["stimuli"][2]["code"]
    assert document["stimuli"][2]["texts"]["answer_only"]["text"] == ""
    document["stimuli"][2]["texts"]["trace"]["text"] = " "
    with pytest.raises(spec.InvalidSpec) as refused:
        spec.import_study(spec.dumps(document))
    (error,) = refused.value.errors
    assert error.path == "stimuli[2].texts.trace.text"
    assert error.message == (f"Problem '{code}', condition 'trace': A text is needed: only a condition of "
                             "the kind 'No text: the model's answer alone' shows no text.")
    assert not Study.objects.exists()


# --- the admin ---------------------------------------------------------------------------------------


@pytest.fixture
def editor(client, django_user_model):
    """Staff who may add and change studies (and nothing else)."""
    user = django_user_model.objects.create_user("editor", password="pw-editor-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(
        codename__in=["view_study", "add_study", "change_study"]))
    client.force_login(user)
    return client


def upload(client, text: str, name: str = "study.json", slug: str = ""):
    return client.post(reverse("admin:studyapp_study_upload_file"),
                       {"file": SimpleUploadedFile(name, text.encode()), "slug": slug})


def test_the_admin_uploads_a_file_and_opens_the_new_study(editor):
    listing = editor.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert reverse("admin:studyapp_study_upload_file") in listing
    response = upload(editor, WITHIN.read_text(), slug="copy-of-within")
    study = Study.objects.get(slug="copy-of-within")
    assert response.status_code == 302 and response["Location"] == reverse("admin:studyapp_study_change",
                                                                          args=[study.pk])
    assert readiness_problems(study) == [] and study.status == Study.Status.DRAFT
    version = TraceVersion.objects.filter(trace__stimulus__study=study).first()
    assert version.number == 1 and version.created_by.username == "editor"


def test_the_admin_download_is_the_commands_file(editor, capsys):
    call_command("study_spec", "import", str(BETWEEN))
    study = Study.objects.get()
    page = editor.get(reverse("admin:studyapp_study_change", args=[study.pk])).content.decode()
    link = reverse("admin:studyapp_study_download_file", args=[study.pk])
    assert link in page
    response = editor.get(link)
    assert response["Content-Disposition"] == 'attachment; filename="three-between.study.json"'
    capsys.readouterr()
    call_command("study_spec", "export", "three-between")
    assert response.content.decode() == capsys.readouterr().out
    assert json.loads(response.content)["conditions"] == json.loads(BETWEEN.read_text())["conditions"]


@pytest.mark.parametrize(("spoil", "field", "where", "says"), BAD_FILES, ids=BAD_FILE_NAMES)
def test_the_admin_shows_a_bad_files_problems_and_makes_nothing(editor, spoil, field, where, says):
    text = spoilt(spoil)
    before = counts()
    response = upload(editor, text, name="mine.json")
    page = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: 1 problem in mine.json." in page
    assert f"{field} (line {line_of(text, *where)}): " in page
    assert counts() == before


def test_a_viewer_may_download_but_not_upload(client, django_user_model):
    call_command("study_spec", "import", str(BETWEEN))
    user = django_user_model.objects.create_user("viewer", password="pw-viewer-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)
    study = Study.objects.get()
    assert client.get(reverse("admin:studyapp_study_download_file", args=[study.pk])).status_code == 200
    listing = client.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert reverse("admin:studyapp_study_upload_file") not in listing
    assert client.get(reverse("admin:studyapp_study_upload_file")).status_code == 403
    before = counts()
    assert upload(client, WITHIN.read_text()).status_code == 403
    assert counts() == before


# --- the API -----------------------------------------------------------------------------------------


def test_the_api_serves_the_file_to_researchers_only(client, django_user_model, settings):
    call_command("study_spec", "import", str(WITHIN))
    path = reverse("api:spec", args=["four-within"])
    assert client.get(path).status_code in (401, 403)
    user = django_user_model.objects.create_user("res", password="pw-res-12345")
    user.groups.add(Group.objects.get_or_create(name=settings.RESEARCHERS_GROUP)[0])
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.content.decode() == spec.dumps(spec.export_study(Study.objects.get()))
    assert client.get(path, {"format": "csv"}).status_code == 400
    links = client.get(reverse("api:study-detail", args=["four-within"])).json()["exports"]
    assert links["spec"] == f"http://testserver{path}"
    assert client.get(reverse("api:spec", args=["nope"])).status_code == 404


def test_a_verification_and_a_simulation_study_round_trip_with_task_grades_candidates_and_masks(tmp_path):
    from tests.studyapp.judged import simulation_study, verification_study

    for study in (verification_study(live=False), simulation_study(live=False)):
        Study.objects.filter(pk=study.pk).update(
            truth_definition="published", simulation_feedback=True,
            confidence_anchors=["None", "Little", "Some", "Much", "Total"])
        first, second = tmp_path / f"{study.slug}-1.json", tmp_path / f"{study.slug}-2.json"
        call_command("study_spec", "export", study.slug, "--output", str(first))
        call_command("study_spec", "import", str(first), "--slug", f"{study.slug}-copy")
        call_command("study_spec", "export", f"{study.slug}-copy", "--output", str(second))
        document = json.loads(first.read_text())
        assert json.loads(second.read_text()) == {**document, "slug": f"{study.slug}-copy"}
        assert document["design"]["trial_task"] == study.trial_task
        assert document["design"]["confidence_anchors"][-1] == "Total"
        copy = Study.objects.get(slug=f"{study.slug}-copy")
        assert (copy.truth_definition, copy.simulation_feedback) == ("published", True)
        original = study.stimuli.get(code="q03")
        copied = copy.stimuli.get(code="q03")
        assert (copied.grades, copied.answer_candidates) == (original.grades, original.answer_candidates)
        assert copied.traces.get(condition="plain").masked_text == original.traces.get(
            condition="plain").masked_text != ""
        assert copied.traces.get(condition="plain").mask_note == "final answer masked"
        assert readiness_problems(copy) == []
