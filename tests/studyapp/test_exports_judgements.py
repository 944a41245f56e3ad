"""The judgements of verification and simulation studies in the exports: the judgements table (API,
export_study, the monitor's downloads), the wide export's t<n>_ columns and the codebook."""

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from studyapp import exports
from studyapp.models import Participant, TrialJudgement
from tests.studyapp.judged import simulation_study, verification_study
from tests.studyapp.test_exports import table_dicts

pytestmark = pytest.mark.django_db
EVERYONE = exports.ParticipantFilter(include_previews=True)  # pilot bots are previews


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")


def walked(build, slug: str):
    study = build(slug, target=2)
    call_command("pilot", slug, "--participants", "4", "--seed", "2", "--accuracy", "steps=0.8,plain=0.5")
    return study


@pytest.mark.parametrize("build", [verification_study, simulation_study])
def test_the_judgements_table_has_every_judgement_with_its_truth_and_the_stimulus_grades(build, researcher):
    study = walked(build, f"ex-{build.__name__}")
    rows = table_dicts(exports.judgements_table(study, EVERYONE))
    assert [name for name, _ in exports.JUDGEMENT_COLUMNS] == [
        "study", "participant_id", "prolific_pid", "is_preview", "stimulus_id", "stimulus", "trial",
        "practice", "condition", "task", "choice", "correct", "truth", "confidence", "server_ms", "choice_ms",
        "options_shown", "submitted_at", "truth_definition", "answer_correct", "trace_correct",
        "grades_source",
    ]
    stored = {(j.participant_id, j.stimulus_id): j for j in TrialJudgement.objects.all()}
    assert len(rows) == len(stored) == 16
    people = {p.pk: p for p in Participant.objects.filter(study=study)}
    for row in rows:
        judgement = stored[(int(row["participant_id"]), int(row["stimulus_id"]))]
        stimulus = judgement.stimulus
        person = people[judgement.participant_id]
        assert int(row["trial"]) == person.stimulus_sequence.index(stimulus.pk) + 1 and row["practice"] == "0"
        assert (row["task"], row["choice"]) == (study.trial_task, judgement.choice)
        assert row["truth"] == judgement.truth
        assert row["correct"] == str(int(judgement.correct)) and row["condition"] == person.condition.code
        assert row["confidence"] == str(judgement.confidence) and row["server_ms"] != ""
        assert row["answer_correct"] == str(int(stimulus.answer_correct("strict")))
        assert row["trace_correct"] == str(int(stimulus.trace_correct("strict")))
        assert (row["truth_definition"], row["grades_source"], row["is_preview"]) == ("strict", "tests", "1")
        if study.trial_task == "simulation":
            assert json.loads(row["options_shown"]) == judgement.options_shown
        else:
            assert row["options_shown"] == ""
            assert row["truth"] == ("yes" if row["answer_correct"] == "1" else "no")
    assert not table_dicts(exports.judgements_table(study, exports.ParticipantFilter()))  # bots are previews

    wide = table_dicts(exports.wide_table(study, EVERYONE))
    for row in wide:
        person = people[int(row["participant_id"])]
        for t, stimulus_id in enumerate(person.stimulus_sequence, start=1):
            judgement = stored[(person.pk, stimulus_id)]
            cells = [row[f"t{t}_{name}"] for name in ("choice", "correct", "confidence", "choice_ms")]
            assert cells == [judgement.choice, str(int(judgement.correct)), str(judgement.confidence), ""]
            assert row[f"t{t}_stimulus"] == judgement.stimulus.code

    book = exports.codebook(study)
    assert book["task"]["code"] == study.trial_task and book["task"]["truth_definition"] == "strict"
    assert [a["label"] for a in book["task"]["confidence_anchors"]] == study.confidence_anchors
    assert [c["name"] for c in book["columns"]["judgements"]] == [n for n, _ in exports.JUDGEMENT_COLUMNS]
    assert {"t1_choice", "t1_correct", "t1_confidence", "t1_choice_ms"} <= {
        c["name"] for c in book["columns"]["responses_wide"]}
    flat = table_dicts(exports.codebook_table(study))
    [task_row] = [r for r in flat if r["section"] == "trial_task"]
    assert task_row["code"] == study.trial_task and task_row["anchor_5"] == "Completely confident"
    assert any(r["section"] == "judgements_column" and r["code"] == "choice_ms" for r in flat)


def test_the_judgements_over_the_api_the_command_and_the_monitor(researcher, client, tmp_path):
    study = walked(simulation_study, "over-http")
    client.force_login(researcher)
    url = reverse("api:judgements", args=[study.slug])
    response = client.get(url, {"format": "json", "include_previews": "1"})
    rows = json.loads(b"".join(response.streaming_content))
    assert response.status_code == 200 and len(rows) == 16 and rows[0]["task"] == "simulation"
    csv_response = client.get(url, {"format": "csv", "include_previews": "1"})
    assert b"".join(csv_response.streaming_content).decode().splitlines()[0].startswith(
        "study,participant_id,prolific_pid,is_preview,stimulus_id")
    detail = client.get(reverse("api:study-detail", args=[study.slug])).json()
    assert detail["exports"]["judgements"].endswith(f"/api/v1/studies/{study.slug}/judgements/")
    monitor = client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert f"{url}?format=csv" in monitor and "Judgements (simulation)" in monitor
    call_command("export_study", study.slug, "--out", str(tmp_path), "--include-previews")
    written = (tmp_path / f"{study.slug}-judgements.csv").read_text()
    assert len(written.strip().splitlines()) == 17


def test_a_rating_study_exports_as_before(researcher, client):
    study = verification_study("still-rating")
    study.trial_task = "rating"
    study.save()
    assert "judgements" not in exports.codebook(study)["columns"]
    assert not any(name.endswith("_choice") for name in exports.wide_table(study, EVERYONE).header)
    assert "judgements" not in [t.name for t in exports.data_tables(study, EVERYONE)]
