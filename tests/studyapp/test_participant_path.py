"""The participant's whole path through Django's test client, and every way it can go wrong."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from studyapp.models import Item, PageVisit, Participant, Response, StimulusTrace, Study
from studyapp.services import trial_items
from tests.conftest import Walker, make_study, new_pid

pytestmark = pytest.mark.django_db

PER_TRIAL_ITEMS = 8  # the default questionnaire: 2 items for each of 4 constructs
END_ITEMS = 4
CHECKS = 2  # attention checks per participant, by default


def test_completing_the_study_stores_everything_and_returns_to_prolific(walker, study):
    final = walker.complete(value=4, comment="Interesting traces.")
    p = walker.participant
    assert p.status == Participant.Status.COMPLETED
    assert p.attention_passed is True
    assert p.comment == "Interesting traces."
    assert final.status_code == 200
    html = final.content.decode()
    assert "C-OK" in html
    # the code and a button back, the debriefing, and no timed redirect (WCAG 2.2.1)
    prolific = "https://app.prolific.com/submissions/complete?cc=C-OK"
    assert f'<a class="button" href="{prolific}">Return to Prolific' in html
    assert "http-equiv" not in html and "data-countdown" not in html
    assert "About this study" in html and study.debriefing_text[:40] in html

    responses = Response.objects.filter(participant=p)
    n_trials = study.trials_per_participant
    assert responses.count() == n_trials * PER_TRIAL_ITEMS + CHECKS + END_ITEMS
    for stimulus_id in p.stimulus_sequence:
        about = responses.filter(stimulus_id=stimulus_id)
        assert about.exclude(item__construct="attention_check").count() == PER_TRIAL_ITEMS
        assert sorted(about.values_list("position", flat=True)) == list(range(1, about.count() + 1))
    assert set(responses.exclude(item__construct="attention_check").values_list("value", flat=True)) == {4}
    checks = responses.filter(item__construct="attention_check").select_related("item")
    assert checks.count() == CHECKS and all(r.value == r.item.expected_value for r in checks)
    assert p.attention_failures == 0
    assert responses.filter(stimulus__isnull=True).count() == END_ITEMS
    assert not responses.filter(time_on_page_ms__isnull=True).exists()

    visits = PageVisit.objects.filter(participant=p)
    assert visits.count() == 2 + n_trials + 1
    for visit in visits:
        assert visit.submitted_at is not None and visit.first_shown_at <= visit.submitted_at
    assert visits.filter(page__startswith="trial-").exclude(stimulus=None).count() == n_trials


def test_every_page_shows_progress(walker, study):
    walker.arrive()
    assert "before trial 1 of 3" in walker.last.content.decode()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    for n in (1, 2, 3):
        assert f"Trial {n} of 3" in walker.last.content.decode()
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    assert "after trial 3 of 3" in walker.last.content.decode()


def test_trial_page_shows_problem_answer_and_the_participants_condition_trace(walker, study):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    p = walker.participant
    html = walker.last.content.decode()
    stimulus = study.stimuli.get(pk=p.stimulus_sequence[0])
    assert stimulus.question in html and stimulus.model_answer in html
    assert all(fact in html for fact in stimulus.context_facts)
    assert f"{p.condition.code} trace for" in html
    others = {"decomposition", "r1", "r1_summary", "posthoc"} - {p.condition.code}
    assert not any(f"{code} trace for" in html for code in others)
    # Accessible Likert items: fieldsets with legends, native radios, nothing pre-selected.
    assert html.count("<fieldset") == html.count("<legend>") >= PER_TRIAL_ITEMS
    assert 'type="radio"' in html and " checked" not in html


def test_trace_text_is_rendered_safely_with_markdown_emphasis(walker, study):
    StimulusTrace.objects.filter(stimulus__study=study).update(
        text="**Answer:** X\n\n- step one\n- step two\n\n<script>alert(1)</script> <b onclick=x>hi</b>"
    )
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    html = walker.post("instructions", {}).content.decode()
    assert "<strong>Answer:</strong>" in html and "<li>step one</li>" in html
    assert "<script>alert(1)</script>" not in html and "<b onclick" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html



def test_context_facts_are_listed_each_escaped(walker, study):
    study.stimuli.update(context_facts=["Ann was <b>born</b> in 1990 & lived in Rome.", "Bob met Ann."])
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    html = walker.post("instructions", {}).content.decode()
    assert ('<ul class="facts"><li>Ann was &lt;b&gt;born&lt;/b&gt; in 1990 &amp; lived in Rome.</li>'
            "<li>Bob met Ann.</li></ul>") in html

@pytest.mark.parametrize(
    "query",
    [
        {},
        {"PROLIFIC_PID": ""},
        {"PROLIFIC_PID": "12345"},
        {"PROLIFIC_PID": "z" * 24},
        {"PROLIFIC_PID": "a" * 25},
        {"PROLIFIC_PID": "a" * 24, "SESSION_ID": "<script>"},
    ],
)
def test_missing_or_malformed_prolific_id_gets_a_clear_page_and_stores_nothing(client, study, query):
    response = client.get(reverse("studyapp:entry", args=[study.slug]), query)
    assert response.status_code == 400
    assert "Please open this study from Prolific" in response.content.decode()
    assert not Participant.objects.exists()


def test_full_study_asks_to_return_it_on_prolific(client):
    study = make_study(target=1)
    for _ in range(4):
        Walker(client, study).arrive()
    response = Walker(client, study).arrive()
    assert "This study is full" in response.content.decode()
    assert "return the study on Prolific" in response.content.decode()
    assert Participant.objects.filter(study=study).count() == 4


def test_study_not_live_turns_new_arrivals_away(client):
    study = make_study(status=Study.Status.PAUSED)
    response = Walker(client, study).arrive()
    assert "not taking participants" in response.content.decode()
    assert not Participant.objects.exists()


def test_declining_consent_returns_with_the_no_consent_code(walker):
    walker.arrive()
    response = walker.post("consent", {"consent": "no"})
    assert walker.participant.status == Participant.Status.NO_CONSENT
    assert "submissions/complete?cc=C-NOCONSENT" in response.content.decode()
    # Coming back does not start the study again.
    assert "C-NOCONSENT" in walker.arrive().content.decode()
    assert walker.get("instructions").redirect_chain[-1][0].endswith("/done/")


def test_consent_without_a_choice_is_a_400(walker):
    walker.arrive()
    response = walker.post("consent", {})
    assert response.status_code == 400
    assert "Please choose whether you agree" in response.content.decode()
    assert walker.participant.pages_done == 0


def test_failing_both_attention_checks_finishes_with_the_failed_attention_code(walker):
    response = walker.complete(attention="fail")
    p = walker.participant
    assert (p.attention_failures, p.attention_passed) == (2, False)
    assert p.status == Participant.Status.SCREENED_OUT
    assert "submissions/complete?cc=C-ATTN" in response.content.decode()
    checks = Response.objects.filter(participant=p, item__construct="attention_check").select_related("item")
    assert checks.count() == 2 and all(r.value != r.item.expected_value for r in checks)


def _on_first_trial(walker) -> dict:
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    return walker.answers_for("trial-1")


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda data, w: data.update({"item-faithfulness_1": "6"}), "Choose one of the points 1 to 5"),
        (lambda data, w: data.update({"item-faithfulness_1": "0"}), "Choose one of the points 1 to 5"),
        (lambda data, w: data.update({"item-faithfulness_1": "abc"}), "Choose one of the points 1 to 5"),
        (lambda data, w: data.update({"item-faithfulness_1": "3.5"}), "Choose one of the points 1 to 5"),
        (lambda data, w: data.pop("item-faithfulness_1"), "Please choose an answer"),
        (lambda data, w: data.update({"item-trust_9": "3"}), "items it does not have: trust_9"),
        (lambda data, w: data.update({"stimulus": str(w.participant.stimulus_sequence[1])}), "not this"),
        (lambda data, w: data.update({"stimulus": "999999"}), "not this trial"),
        (lambda data, w: data.pop("stimulus"), "without its problem"),
    ],
)
def test_bad_trial_answers_are_a_400_with_a_clear_error_and_store_nothing(walker, tamper, message):
    data = _on_first_trial(walker)
    tamper(data, walker)
    response = walker.post("trial-1", data, follow=False)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "Your answers were not saved yet" in response.content.decode() or "nothing was saved" in (
        response.content.decode()
    )
    assert not Response.objects.exists()
    assert walker.participant.pages_done == 2


def test_after_a_form_error_the_answers_given_stay_checked(walker):
    data = _on_first_trial(walker)
    data.pop("item-faithfulness_1")
    html = walker.post("trial-1", data, follow=False).content.decode()
    assert 'name="item-faithfulness_2" value="4" checked' in html


def test_double_submit_stores_each_answer_once_and_moves_on(walker):
    data = _on_first_trial(walker)
    first = walker.post("trial-1", data, follow=False)
    second = walker.post("trial-1", data, follow=False)
    assert first.status_code == second.status_code == 302
    assert second.url.endswith("/trial-2/")
    p = walker.participant
    assert Response.objects.filter(stimulus_id=p.stimulus_sequence[0]).count() == len(trial_items(p, 1))
    assert p.pages_done == 3


def test_going_back_shows_saved_answers_and_cannot_change_them(walker):
    data = _on_first_trial(walker)
    data = {k: ("5" if k.startswith("item-") and "attention" not in k else v) for k, v in data.items()}
    walker.post("trial-1", data)
    html = walker.get("trial-1").content.decode()
    assert "You already answered this page" in html
    assert 'name="item-faithfulness_1" value="5" checked disabled' in html
    changed = {k: ("1" if k.startswith("item-") else v) for k, v in data.items()}
    walker.post("trial-1", changed)
    stimulus = walker.participant.stimulus_sequence[0]
    assert set(
        Response.objects.filter(stimulus_id=stimulus).exclude(item__construct="attention_check")
        .values_list("value", flat=True)
    ) == {5}


def test_refresh_keeps_the_first_time_shown_for_reading_time(walker):
    _on_first_trial(walker)
    visit = PageVisit.objects.get(participant=walker.participant, page="trial-1")
    walker.get("trial-1")
    walker.get("trial-1")
    again = PageVisit.objects.get(pk=visit.pk)
    assert again.first_shown_at == visit.first_shown_at
    assert again.last_shown_at > visit.last_shown_at


def test_coming_back_with_the_prolific_link_resumes_at_the_same_page(client, study):
    first = Walker(client, study)
    first.arrive()
    first.post("consent", {"consent": "yes"})
    first.post("instructions", {})
    first.post("trial-1", first.answers_for("trial-1"))
    condition = first.participant.condition
    again = Walker(client, study, pid=first.pid).arrive()  # a new tab, or the next day
    assert again.redirect_chain[-1][0].endswith("/trial-2/")
    assert Participant.objects.get().condition == condition


def test_completed_participant_sees_the_code_again_never_a_second_run(client, study):
    first = Walker(client, study)
    first.complete()
    again = Walker(client, study, pid=first.pid).arrive()
    assert again.redirect_chain[-1][0].endswith("/done/")
    assert "C-OK" in again.content.decode()
    assert Participant.objects.count() == 1
    assert first.get("trial-1").redirect_chain == []  # saved pages can still be viewed
    response = first.post("questionnaire", first.answers_for("questionnaire"))
    assert response.redirect_chain[-1][0].endswith("/done/")
    assert Response.objects.filter(stimulus__isnull=True).count() == END_ITEMS


def test_pages_ahead_cannot_be_reached_or_submitted(walker):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    assert walker.get("trial-2").redirect_chain[-1][0].endswith("/instructions/")
    response = walker.post("trial-2", {"item-faithfulness_1": "3"})
    assert response.redirect_chain[-1][0].endswith("/instructions/")
    assert not Response.objects.exists()
    assert walker.client.get(walker.url("trial-99")).status_code == 404


def test_past_the_time_limit_the_participant_is_told_and_their_answers_are_kept(walker, study):
    data = _on_first_trial(walker)
    Participant.objects.filter(pk=walker.participant.pk).update(
        started_at=timezone.now() - timedelta(minutes=study.time_limit_minutes + 1)
    )
    # The page they had open is still saved, then they hear that time is up.
    response = walker.post("trial-1", data)
    assert "The time limit for this study has passed" in response.content.decode()
    assert walker.participant.status == Participant.Status.TIMED_OUT
    assert Response.objects.filter(stimulus_id=walker.participant.stimulus_sequence[0]).exists()
    assert walker.get("trial-2").redirect_chain[-1][0].endswith("/done/")


def test_preview_is_for_staff_and_never_counts(client, admin_client):
    study = make_study(target=1, status=Study.Status.DRAFT)
    url = reverse("studyapp:preview", args=[study.slug])
    assert client.get(url).status_code == 302  # to the admin login
    assert "Preview" in admin_client.get(url).content.decode()
    preview = Walker(admin_client, study)
    response = admin_client.get(url, {"condition": "r1"}, follow=True)
    p = Participant.objects.get()
    assert p.is_preview and p.condition.code == "r1"
    assert response.redirect_chain[-1][0].endswith("/consent/")
    preview.pid = p.prolific_pid
    final = preview.complete()
    assert "a participant would now return to Prolific" in final.content.decode()
    assert admin_client.get(url, {"condition": "nope"}).status_code == 400


def test_monitor_is_staff_only_and_counts_per_condition(client, admin_client):
    study = make_study(target=2)
    walkers = [Walker(client, study) for _ in range(5)]
    walkers[0].complete()
    for w in walkers[1:]:
        w.arrive()
    Participant.objects.filter(pk=walkers[1].participant.pk).update(
        started_at=timezone.now() - timedelta(hours=2)
    )
    url = reverse("studyapp:monitor", args=[study.slug])
    assert client.get(url).status_code == 302
    response = admin_client.get(url)
    progress = response.context["progress"]
    assert progress.target == 8 and progress.completed == 1
    assert sum(c.active for c in progress.conditions) == 3
    assert sum(c.abandoned for c in progress.conditions) == 1
    assert "1 of 8" in response.content.decode()
    assert f"/analysis/{study.slug}/" in response.content.decode()


def test_a_second_study_with_the_same_pid_is_separate(client, study):
    other = make_study("s2")
    pid = new_pid()
    Walker(client, study, pid=pid).complete()
    response = Walker(client, other, pid=pid).arrive()
    assert response.redirect_chain[-1][0].endswith("/consent/")


def test_home_page_points_participants_to_prolific_and_staff_to_their_studies(client, admin_client, study):
    assert "open the study from its link on Prolific" in client.get("/").content.decode()
    assert study.slug not in client.get("/").content.decode()
    staff_home = admin_client.get("/").content.decode()
    assert f"/study/{study.slug}/monitor/" in staff_home and f"/analysis/{study.slug}/" in staff_home


def test_a_page_whose_items_were_all_removed_from_the_study_still_saves_and_moves_on(walker, study):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    for n in range(1, study.trials_per_participant + 1):
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    Item.objects.filter(study=study, scope=Item.Scope.END).delete()  # none answered yet

    final = walker.post("questionnaire", {"comment": "no questions left"})

    assert final.status_code == 200 and "C-OK" in final.content.decode()
    p = walker.participant
    assert p.status == Participant.Status.COMPLETED and p.comment == "no questions left"
    assert not Response.objects.filter(participant=p, stimulus__isnull=True).exists()
