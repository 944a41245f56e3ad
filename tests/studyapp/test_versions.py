"""Versions of the texts participants read: an edit after someone read a text makes a new version and
keeps the old one; every answer keeps the version read; nothing a participant read can be deleted;
and a trial whose text is gone anyway never gives the participant a server error."""

import csv
import io
import json
import re

import pytest
from django.db import connection
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from studyapp import exports
from studyapp.models import Participant, Stimulus, StimulusTrace, Study
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db

CONDITION = "r1"


def one_condition_study(slug: str = "v1") -> Study:
    """Every participant in one condition and reading all three stimuli, so two of them read the same text."""
    study = make_study(slug, n_stimuli=3, trials=3)
    study.conditions.exclude(code=CONDITION).delete()
    return study


def to_trial_of(walker: Walker, stimulus: Stimulus) -> str:
    """Walk on to the trial that shows `stimulus` (answering those before it); its page key."""
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    trial = walker.participant.stimulus_sequence.index(stimulus.pk) + 1
    for n in range(1, trial):
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    return f"trial-{trial}"


def change_form(stimulus: Stimulus, **changes: str) -> dict:
    """The stimulus's admin change form as the browser posts it, with `changes` (stimulus fields, or
    ``text`` for the r1 trace)."""
    traces = list(stimulus.traces.order_by("pk"))
    form = {
        "study": stimulus.study_id, "code": stimulus.code, "source": stimulus.source,
        "context_facts": json.dumps(stimulus.context_facts), "question": stimulus.question,
        "gold_answers": json.dumps(stimulus.gold_answers), "model_answer": stimulus.model_answer,
        "model_answer_original": stimulus.model_answer_original,
        "traces-TOTAL_FORMS": len(traces), "traces-INITIAL_FORMS": len(traces),
        "traces-MIN_NUM_FORMS": 0, "traces-MAX_NUM_FORMS": 1000,
    }
    for n, trace in enumerate(traces):
        form.update({f"traces-{n}-id": trace.pk, f"traces-{n}-stimulus": stimulus.pk,
                     f"traces-{n}-condition": trace.condition, f"traces-{n}-text": trace.text})
        if trace.condition == CONDITION and "text" in changes:
            form[f"traces-{n}-text"] = changes["text"]
    form.update({k: v for k, v in changes.items() if k != "text"})
    return form


def csv_export(client: Client, name: str, study: Study) -> list[dict]:
    response = client.get(reverse(f"api:{name}", args=[study.slug]), {"format": "csv"})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def read_then_edited(admin_client):
    """A participant reads the first version of a text; the researcher corrects the text and the question
    in the admin; a second participant reads the second version."""
    study = one_condition_study()
    stimulus = study.stimuli.order_by("pk").first()
    first = Walker(Client(), study)
    first.page = to_trial_of(first, stimulus)
    shown = first.get(first.page).content.decode()
    assert "r1 trace for 0" in shown and "Question 0?" in shown

    edit = admin_client.post(
        reverse("admin:studyapp_stimulus_change", args=[stimulus.pk]),
        change_form(stimulus, text="The corrected trace.", question="The corrected question?"),
    )
    assert edit.status_code == 302, edit.content.decode()[:3000]
    assert StimulusTrace.objects.get(stimulus=stimulus, condition=CONDITION).text == "The corrected trace."

    second = Walker(Client(), study)
    second.page = to_trial_of(second, stimulus)
    shown = second.get(second.page).content.decode()
    assert "The corrected trace." in shown and "The corrected question?" in shown
    assert "r1 trace for 0" not in shown
    return study, stimulus, first, second


def test_each_participant_keeps_the_version_they_read_on_refresh_and_going_back(read_then_edited):
    _, _, first, second = read_then_edited
    # The first participant reloads the page they were reading: the same texts, not the correction.
    again = first.get(first.page).content.decode()
    assert "r1 trace for 0" in again and "Question 0?" in again
    assert "The corrected trace." not in again and "The corrected question?" not in again
    first.post(first.page, first.answers_for(first.page))
    # Going back to the saved page shows what they read and answered.
    saved = first.get(first.page).content.decode()
    assert "r1 trace for 0" in saved and "Question 0?" in saved and "The corrected" not in saved
    second.post(second.page, second.answers_for(second.page))
    saved = second.get(second.page).content.decode()
    assert "The corrected trace." in saved and "The corrected question?" in saved


def test_the_exports_say_who_read_which_version_and_keep_both_texts(read_then_edited, admin_client):
    study, stimulus, first, second = read_then_edited
    for walker in (first, second):
        walker.post(walker.page, walker.answers_for(walker.page))
    ids = {str(first.participant.pk): "1", str(second.participant.pk): "2"}

    answers = [r for r in csv_export(admin_client, "responses", study) if r["stimulus"] == stimulus.code]
    assert answers and {r["participant_id"]: r["trace_version"] for r in answers} == ids
    visits = [r for r in csv_export(admin_client, "page-times", study) if r["stimulus"] == stimulus.code]
    assert {r["participant_id"]: r["trace_version"] for r in visits} == ids
    (first_row,) = [r for r in csv_export(admin_client, "responses-wide", study)
                    if r["participant_id"] == str(first.participant.pk)]
    assert first_row[f"{first.page.replace('trial-', 't')}_trace_version"] == "1"

    texts = [r for r in csv_export(admin_client, "texts", study)
             if r["stimulus"] == stimulus.code and r["condition"] == CONDITION]
    assert [(r["version"], r["text"], r["question"], r["reader_ids"]) for r in texts] == [
        ("1", "r1 trace for 0", "Question 0?", str(first.participant.pk)),
        ("2", "The corrected trace.", "The corrected question?", str(second.participant.pk)),
    ]
    assert texts[1]["changed"] == "text;question" and texts[1]["created_by"] == "admin"
    assert json.loads(texts[0]["context_facts"]) == ["Fact 0a.", "Fact 0b."]
    stimuli = [r for r in csv_export(admin_client, "stimuli", study)
               if r["stimulus"] == stimulus.code and r["condition"] == CONDITION]
    assert stimuli[0]["version"] == "2"
    assert "texts" in admin_client.get(reverse("api:codebook", args=[study.slug])).json()["columns"]


def test_the_stimulus_admin_shows_every_version_and_who_read_it(read_then_edited, admin_client):
    _, stimulus, first, second = read_then_edited
    page = admin_client.get(reverse("admin:studyapp_stimulus_change", args=[stimulus.pk])).content.decode()
    assert "Version 1 (" in page and f"read by {first.pid}</summary>" in page
    assert "by admin; changed: text, question): read by " + second.pid in page
    assert "r1 trace for 0" in page and "The corrected trace." in page


def test_an_edit_from_the_shell_or_a_save_without_change_never_overwrites_what_was_read(client):
    study = one_condition_study()
    stimulus = study.stimuli.order_by("pk").first()
    reader = Walker(client, study)
    page = to_trial_of(reader, stimulus)
    assert "Answer 0" in reader.get(page).content.decode()

    stimulus.save()  # nothing shown changed
    stimulus.model_answer = "A corrected answer"
    stimulus.save()

    assert "Answer 0" in reader.get(page).content.decode()
    other = Walker(Client(), study)
    assert "A corrected answer" in other.get(to_trial_of(other, stimulus)).content.decode()
    texts = list(exports.text_rows(study))
    answers = [(row[4], row[10]) for row in texts if row[1] == stimulus.pk and row[3] == CONDITION]
    assert answers == [(1, "Answer 0"), (2, "A corrected answer")]


def test_nothing_participants_read_can_be_deleted_by_any_path_and_they_can_go_on(walker, study, admin_client):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    p = walker.participant
    stimulus = Stimulus.objects.get(pk=p.stimulus_sequence[0])
    trace = stimulus.traces.get(condition=p.condition.code)
    assert trace.text.encode() in walker.get("trial-1").content
    reason = "cannot be deleted: participants have taken part in study s1 (1 so far)"

    for delete in (
        trace.delete, stimulus.delete, stimulus.traces.all().delete,
        StimulusTrace.objects.filter(stimulus__study=study).delete,
        Stimulus.objects.filter(study=study).delete,
        Stimulus.objects.filter(pk__in=p.stimulus_sequence[1:]).delete,  # drawn, not read yet
    ):
        with pytest.raises(ProtectedError, match=re.escape(reason)):
            delete()
    # The admin: the stimulus's delete page says why; the traces' delete boxes are not offered or obeyed.
    delete_page = reverse("admin:studyapp_stimulus_delete", args=[stimulus.pk])
    refused = admin_client.post(delete_page, {"post": "yes"}, follow=True)
    assert reason in refused.content.decode()
    form = change_form(stimulus)
    form.update({f"traces-{n}-DELETE": "on" for n in range(4)})
    admin_client.post(reverse("admin:studyapp_stimulus_change", args=[stimulus.pk]), form)
    # The API reads; it deletes nothing.
    api = admin_client.delete(reverse("api:stimuli", args=[study.slug]))
    assert api.status_code == 405
    assert StimulusTrace.objects.filter(stimulus__study=study).count() == 6 * 4

    walker.post("trial-1", walker.answers_for("trial-1"))
    for n in (2, 3):
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    data = walker.answers_for("questionnaire")
    walker.post("questionnaire", data)
    assert walker.participant.status == Participant.Status.COMPLETED
    # A study nobody has taken part in can still be changed freely.
    draft = make_study("draft", status=Study.Status.DRAFT)
    draft.stimuli.first().traces.first().delete()
    draft.stimuli.first().delete()
    assert draft.stimuli.count() == 5


def test_a_trial_whose_text_is_gone_tells_the_participant_and_the_monitor_instead_of_a_500(
    walker, study, admin_client
):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {}, follow=False)  # trial 1 not shown yet
    p = walker.participant
    missing = Stimulus.objects.get(pk=p.stimulus_sequence[0])
    trace = missing.traces.get(condition=p.condition.code)
    with connection.cursor() as cursor:  # past every guard, as hand-written SQL would (nobody read it yet)
        cursor.execute("DELETE FROM studyapp_traceversion WHERE trace_id = %s", [trace.pk])
        cursor.execute("DELETE FROM studyapp_stimulustrace WHERE id = %s", [trace.pk])

    page = walker.get("trial-1")
    assert page.status_code == 503
    text = page.content.decode()
    assert "This problem cannot be shown" in text and "Your answers so far are saved" in text
    assert walker.post("trial-1", {"stimulus": missing.pk}).status_code == 503  # a form error: same page
    assert walker.participant.pages_done == 2  # consent and instructions, kept

    monitor = admin_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert (f"Stimulus {missing.code} has no &#x27;{p.condition.code}&#x27; text, but 1 active participants"
            in monitor)


def test_a_trial_page_costs_the_same_queries_and_records_the_version_shown(
    walker, django_assert_num_queries
):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    url = walker.url("trial-1")
    walker.client.get(url)  # this process now holds the trial's texts
    with django_assert_num_queries(2):  # the participant with their study, and the visit's upsert
        walker.client.get(url)
    visit = walker.participant.visits.get(page="trial-1")
    assert visit.trace_version.number == 1
    assert visit.trace_version.text == StimulusTrace.objects.get(
        stimulus=visit.stimulus, condition=walker.participant.condition.code
    ).text
