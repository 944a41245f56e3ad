"""What researchers do in the admin: create and open studies, design their conditions and items, filter
participants, mark returns."""

import json

import pytest
from django.contrib.messages import get_messages
from django.db.models import ProtectedError
from django.urls import reverse

from studyapp.allocation import arrive
from studyapp.models import Condition, Item, Participant, StimulusTrace, Study
from tests.conftest import make_study, new_pid
from tests.studyapp.designed import THREE, complete, designed_study, part_way

pytestmark = pytest.mark.django_db


STUDY_FORM = {
    "slug": "pilot", "title": "Pilot", "status": "draft", "design": "between", "target_per_condition": 25,
    "time_limit_minutes": 60, "trials_per_participant": 5, "completion_code": "A1",
    "no_consent_code": "A2", "failed_attention_code": "A3", "consent_text": "Consent.",
    "consent_hold_minutes": 10, "return_countdown_seconds": 0, "answer_position": "after",
    "trial_task": "rating", "truth_definition": "strict",
    "confidence_anchors": '["Not at all confident", "Slightly confident", "Moderately confident", '
                          '"Very confident", "Completely confident"]',
    "attention_checks": 2, "attention_fail_limit": 2, "estimated_minutes": 20,
    "withdrawal_text": "You may stop.", "debriefing_text": "Thanks.", "languages": '["en"]',
    "conditions-TOTAL_FORMS": 0, "conditions-INITIAL_FORMS": 0,
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


# --- designing a study: conditions and items ------------------------------------------------------


def study_form(study: Study, **changes) -> dict:
    """The study's change form as the admin shows it (its conditions and members inline), with ``changes``:
    study fields by name, a condition's by ``<index>-<field>``."""
    form = {**STUDY_FORM, "slug": study.slug, "title": study.title, "status": study.status,
            "design": study.design, "target_per_condition": study.target_per_condition,
            "trials_per_participant": study.trials_per_participant}
    conditions = list(study.conditions.order_by("position"))
    form.update({"conditions-TOTAL_FORMS": len(conditions), "conditions-INITIAL_FORMS": len(conditions),
                 "conditions-MIN_NUM_FORMS": 0, "conditions-MAX_NUM_FORMS": 1000})
    for i, c in enumerate(conditions):
        form.update({f"conditions-{i}-{name}": value for name, value in {
            "id": c.pk, "study": study.pk, "code": c.code, "label": c.label, "trace_heading": c.trace_heading,
            "trace_kind": c.trace_kind, "text_source": c.text_source, "position": c.position,
        }.items()})
    members = list(study.members.all())  # the members inline, which owners see, unchanged
    form.update({"members-TOTAL_FORMS": len(members), "members-INITIAL_FORMS": len(members),
                 "members-MIN_NUM_FORMS": 0, "members-MAX_NUM_FORMS": 1000})
    for i, m in enumerate(members):
        form.update({f"members-{i}-id": m.pk, f"members-{i}-study": study.pk, f"members-{i}-user": m.user_id,
                     f"members-{i}-role": m.role})
    form.update({k if k in form else f"conditions-{k}": v for k, v in changes.items()})
    return form


def conditions_of(study: Study) -> list[tuple]:
    return list(study.conditions.order_by("position").values_list("code", "position", "trace_kind"))


def test_the_study_form_has_the_design_and_the_conditions_every_field(admin_client):
    study = designed_study("b3", THREE, design=Study.Design.BETWEEN, n_stimuli=6, trials=2, target=3)
    page = admin_client.get(reverse("admin:studyapp_study_change", args=[study.pk])).content.decode()
    assert 'name="design"' in page
    for name in ("code", "label", "trace_heading", "trace_kind", "text_source", "position"):
        assert f'name="conditions-0-{name}"' in page
    # nobody has taken part: the design and the conditions may still change
    url = reverse("admin:studyapp_study_change", args=[study.pk])
    response = admin_client.post(url, study_form(study, design="within", **{"0-code": "bare"}))
    assert response.status_code == 302, response.content.decode()[-3000:]
    study.refresh_from_db()
    assert study.design == "within" and conditions_of(study)[0][0] == "bare"


def test_once_participants_have_taken_part_the_design_and_condition_codes_stay_but_labels_can_change(
    admin_client,
):
    study = designed_study("b3", THREE, design=Study.Design.BETWEEN, n_stimuli=6, trials=2, target=3)
    complete(study, 2)
    under_way = part_way(study)
    url = reverse("admin:studyapp_study_change", args=[study.pk])
    page = admin_client.get(url).content.decode()
    assert ("In this study participants have taken part (3 so far): its design, its trials per "
            "participant") in page
    before = conditions_of(study)

    refused = admin_client.post(url, study_form(study, design="within"))
    assert refused.status_code == 200
    assert ("The design cannot change: participants have taken part (3 so far), whose trials were drawn for "
            "a between design.") in refused.content.decode()
    for change in ({"1-code": "stepwise"}, {"0-position": 2, "1-position": 1}, {"2-trace_kind": "reasoning"}):
        refused = admin_client.post(url, study_form(study, **change))
        assert refused.status_code == 200, change
        assert "This cannot change: participants have taken part (3 so far)" in refused.content.decode()
    assert conditions_of(study) == before and Study.objects.get(pk=study.pk).design == "between"
    assert set(StimulusTrace.objects.filter(stimulus__study=study).values_list("condition", flat=True)) == {
        "plain", "steps", "digest"}

    refused = admin_client.post(url, study_form(study, trials_per_participant=3))
    assert refused.status_code == 200
    assert ("The trials per participant cannot change: participants have taken part (3 so far), with 2 "
            "trials each") in refused.content.decode()
    assert Study.objects.get(pk=study.pk).trials_per_participant == 2
    refused = admin_client.post(url, study_form(study, trial_task="verification"))
    assert refused.status_code == 200
    assert ("The trial task and its ground truth cannot change: participants have taken part (3 so far), "
            "whose trials were made under them.") in refused.content.decode()
    assert Study.objects.get(pk=study.pk).trial_task == "rating"

    # removing or adding a condition is not offered, and a form that tries changes nothing
    removing = study_form(study, **{"0-DELETE": "on"})
    adding = {**study_form(study), "conditions-TOTAL_FORMS": 4, "conditions-3-code": "extra",
              "conditions-3-label": "Extra", "conditions-3-trace_heading": "Extra", "conditions-3-trace_kind":
              "imported", "conditions-3-position": 4}
    for form in (removing, adding):
        admin_client.post(url, form)
    assert conditions_of(study) == before

    # what participants' trials do not depend on can be corrected
    mine = under_way.participant.trial_conditions[1]
    index = [code for code, *_ in before].index(mine)
    saved = admin_client.post(url, study_form(study, **{
        f"{index}-label": "Corrected label", f"{index}-trace_heading": "The corrected heading",
        f"{index}-text_source": "Corrected source",
    }))
    assert saved.status_code == 302
    condition = Condition.objects.get(study=study, code=mine)
    assert (condition.label, condition.trace_heading, condition.text_source) == (
        "Corrected label", "The corrected heading", "Corrected source")
    assert "The corrected heading" in under_way.get("trial-2").content.decode()


@pytest.mark.parametrize("design", [Study.Design.BETWEEN, Study.Design.WITHIN])
def test_a_condition_of_a_study_with_participants_cannot_be_deleted_from_the_shell(design):
    """Within participants no participant row points at a condition, so the refusal is the model's own."""
    study = designed_study("d3", THREE, design=design, n_stimuli=6, trials=3, target=3)
    complete(study, 1)
    condition = study.conditions.first()
    for delete in (condition.delete, Condition.objects.filter(pk=condition.pk).delete,
                   study.conditions.all().delete):
        with pytest.raises(ProtectedError, match="their trials name its stimuli and conditions"):
            delete()
    assert study.conditions.count() == 3


def test_items_have_a_5_or_7_point_scale_with_an_anchor_per_point_and_keep_it_once_answered(admin_client):
    study = designed_study("b3", THREE, design=Study.Design.BETWEEN, n_stimuli=6, trials=2, target=3)
    item = Item.objects.get(study=study, code="effort_reversed")
    url = reverse("admin:studyapp_item_change", args=[item.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="scale_points"' in page and 'name="reverse_keyed"' in page
    form = {"study": study.pk, "code": item.code, "construct": item.construct, "scope": item.scope,
            "text": item.text, "scale_points": 7, "anchors": json.dumps(item.anchors), "reverse_keyed": "on",
            "source": "", "position": item.position}
    five = admin_client.post(url, {**form, "scale_points": 5})
    assert five.status_code == 200 and "Give exactly 5 non-empty labels" in five.content.decode()
    assert admin_client.post(url, {**form, "reverse_keyed": ""}).status_code == 302
    assert not Item.objects.get(pk=item.pk).reverse_keyed
    listing = admin_client.get(reverse("admin:studyapp_item_changelist"), {"scale_points": 7})
    assert list(listing.context["cl"].queryset) == [item]

    complete(study, 1)  # answers it on its 7 points
    refused = admin_client.post(url, {**form, "scale_points": 5, "anchors": json.dumps(item.anchors[:5])})
    assert refused.status_code == 200
    assert "The scale cannot change: the item has 1 answers, given on its 7-point scale." in (
        refused.content.decode())
    assert Item.objects.get(pk=item.pk).scale_points == 7
