"""What researchers do in the admin: create and open studies, filter participants, mark returns."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from studyapp.allocation import arrive
from studyapp.models import Participant, Study
from tests.conftest import make_study, new_pid

pytestmark = pytest.mark.django_db


STUDY_FORM = {
    "slug": "pilot", "title": "Pilot", "status": "draft", "target_per_condition": 25,
    "time_limit_minutes": 60, "trials_per_participant": 5, "completion_code": "A1",
    "no_consent_code": "A2", "failed_attention_code": "A3", "consent_text": "Consent.",
    "consent_hold_minutes": 10, "return_countdown_seconds": 0, "answer_position": "after",
    "attention_checks": 2, "attention_fail_limit": 2, "estimated_minutes": 20,
    "withdrawal_text": "You may stop.", "debriefing_text": "Thanks.", "conditions-TOTAL_FORMS": 0,
    "conditions-INITIAL_FORMS": 0,
}


def test_a_study_added_in_the_admin_gets_four_conditions_and_the_default_questionnaire(admin_client):
    response = admin_client.post(reverse("admin:studyapp_study_add"), STUDY_FORM)
    assert response.status_code == 302, response.content.decode()[:2000]
    study = Study.objects.get(slug="pilot")
    assert study.conditions.count() == 4
    assert study.items.filter(construct="attention_check").count() == 2
    assert study.items.count() == 14


def test_a_new_study_cannot_be_added_live_it_has_no_stimuli_yet(admin_client):
    response = admin_client.post(reverse("admin:studyapp_study_add"), {**STUDY_FORM, "status": "live"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "save it as a draft, add its stimuli and their traces, then set it live" in page
    assert not Study.objects.filter(slug="pilot").exists()


def test_a_study_cannot_be_saved_live_until_it_is_ready_wherever_it_is_saved(admin_client):
    study = make_study(n_stimuli=2, trials=3, status=Study.Status.DRAFT)
    form = {**STUDY_FORM, "slug": study.slug, "status": "live"}
    response = admin_client.post(reverse("admin:studyapp_study_change", args=[study.pk]), form)
    assert response.status_code == 200
    page = response.content.decode()
    assert "It cannot be live yet" in page and "each participant needs 5" in page  # the form's 5 trials
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    from django.core.exceptions import ValidationError

    study.status = Study.Status.LIVE
    with pytest.raises(ValidationError, match="each participant needs 3"):
        study.save()
    assert Study.objects.get(pk=study.pk).status == Study.Status.DRAFT


def test_opening_an_unready_study_is_refused_with_the_reason(admin_client):
    study = make_study(n_stimuli=2, trials=3, status=Study.Status.DRAFT)
    response = admin_client.post(
        reverse("admin:studyapp_study_changelist"),
        {"action": "open_study", "_selected_action": [study.pk]}, follow=True,
    )
    study.refresh_from_db()
    assert study.status == Study.Status.DRAFT
    text = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "was not opened" in text and "each participant needs 3" in text


def test_opening_and_closing_a_ready_study(admin_client):
    study = make_study(status=Study.Status.DRAFT)
    url = reverse("admin:studyapp_study_changelist")
    admin_client.post(url, {"action": "open_study", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == Study.Status.LIVE
    admin_client.post(url, {"action": "close_study", "_selected_action": [study.pk]})
    study.refresh_from_db()
    assert study.status == Study.Status.CLOSED


def test_participants_filter_by_status_and_condition_and_can_be_marked_returned(admin_client, study):
    ps = [arrive(study, new_pid()) for _ in range(4)]
    url = reverse("admin:studyapp_participant_changelist")
    listing = admin_client.get(url, {"status": "active", "condition__code": ps[0].condition.code})
    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [ps[0]]
    admin_client.post(url, {"action": "mark_returned", "_selected_action": [ps[0].pk]})
    ps[0].refresh_from_db()
    assert ps[0].status == Participant.Status.RETURNED and ps[0].ended_at is not None


def test_participants_and_answers_are_read_only_in_the_admin(admin_client, study):
    p = arrive(study, new_pid())
    change = admin_client.post(
        reverse("admin:studyapp_participant_change", args=[p.pk]), {"status": "completed"}
    )
    assert change.status_code == 403
    assert admin_client.get(reverse("admin:studyapp_response_add")).status_code == 403


def test_stimuli_of_a_study_with_participants_cannot_be_deleted(admin_client, study):
    from django.urls import reverse

    from studyapp.models import Stimulus, StimulusTrace

    unused = make_study("fresh")
    arrive(study, new_pid())
    in_use = study.stimuli.first()
    page = admin_client.get(reverse("admin:studyapp_stimulus_delete", args=[in_use.pk]), follow=True)
    assert page.redirect_chain[-1][0] == reverse("admin:studyapp_stimulus_change", args=[in_use.pk])
    assert "cannot be deleted: participants have taken part in study s1 (1 so far)" in page.content.decode()
    admin_client.post(
        reverse("admin:studyapp_stimulus_changelist"),
        {"action": "delete_selected", "_selected_action": [in_use.pk], "post": "yes"},
    )
    assert Stimulus.objects.filter(pk=in_use.pk).exists()
    assert StimulusTrace.objects.filter(stimulus=in_use).count() == 4
    # A study nobody has started can still be edited freely.
    spare = unused.stimuli.first()
    admin_client.post(reverse("admin:studyapp_stimulus_delete", args=[spare.pk]), {"post": "yes"})
    assert not Stimulus.objects.filter(pk=spare.pk).exists()
