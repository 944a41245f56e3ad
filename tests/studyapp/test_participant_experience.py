"""What participants see and what their pages record: time, consent, errors, completion, practice,
reading measures, traces in one frame, and the researchers' monitor."""

import re
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db.migrations import RunPython
from django.db.migrations.loader import MigrationLoader
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studyapp import exports
from studyapp.models import (
    Condition,
    PageVisit,
    Participant,
    Response,
    Stimulus,
    StimulusTrace,
    Study,
)
from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db


def _to_trial_1(walker: Walker, **consent) -> None:
    walker.arrive()
    walker.post("consent", {"consent": "yes", **consent})
    walker.post("instructions", {})


def test_the_time_limit_shows_on_every_page_and_a_warning_at_ten_minutes(walker, study):
    html = walker.arrive().content.decode()
    assert "Time left: about 60 min" in html and "You have up to 60 minutes" in html
    walker.post("consent", {"consent": "yes"})
    Participant.objects.filter(pk=walker.participant.pk).update(
        started_at=timezone.now() - timedelta(minutes=51)
    )
    html = walker.get("instructions").content.decode()
    assert "Time left: about 9 min" in html
    assert "About 9 minutes are left of the 60 you have. Your answers so far are saved." in html


def test_consent_is_written_from_the_study_and_the_estimate_from_completed_participants(client):
    study = make_study("consent")
    Study.objects.filter(pk=study.pk).update(
        researchers="A. Researcher", institution="Example University", ethics_approval="IRB 2026-123",
        contact="study@example.org", estimated_minutes=15, withdrawal_text="Stop at any time.",
    )
    html = Walker(Client(), study).arrive().content.decode()
    for text in ("A. Researcher, Example University", "IRB 2026-123", "study@example.org", "About 15 minutes",
                 "Stop at any time.", "You have up to 60 minutes"):
        assert text in html, text
    for n, minutes in enumerate((6, 8, 30, 7, 8, 9, 9, 10, 12, 20), start=1):
        done = Walker(Client(), study)
        done.complete()
        Participant.objects.filter(pk=done.participant.pk).update(
            started_at=done.participant.ended_at - timedelta(minutes=minutes, seconds=10)
        )
        if n == 3:  # the first few completions are too few (and often the fastest) to promise a duration
            assert "About 15 minutes." in Walker(Client(), study).arrive().content.decode()
    html = Walker(Client(), study).arrive().content.decode()
    assert "About 10 minutes (the median of the participants who have completed it)" in html


def test_a_page_sent_back_says_what_is_missing_takes_focus_and_links_each_item(walker):
    _to_trial_1(walker)
    html = walker.last.content.decode()
    assert "novalidate" not in html and ' required' in html  # the browser checks before sending
    answers = walker.answers_for("trial-1")
    missing = sorted(k for k in answers if k.startswith("item-"))[:2]
    for name in missing:
        del answers[name]
    response = walker.post("trial-1", answers)
    assert response.status_code == 400
    html = response.content.decode()
    summary = re.search(r'<div class="form-errors" id="error-summary"[^>]*>', html).group(0)
    assert "autofocus" in summary and 'tabindex="-1"' in summary
    for name in missing:
        assert f'href="#field-{name}"' in html and f'id="field-{name}"' in html


def test_the_completion_page_can_count_down_to_prolific_but_the_participant_can_stop_it(client):
    study = make_study("countdown")
    Study.objects.filter(pk=study.pk).update(return_countdown_seconds=10)
    html = Walker(Client(), study).complete().content.decode()
    countdown = re.search(r'<p class="countdown"[^>]*>', html).group(0)
    assert 'data-seconds="10"' in countdown and " hidden" in countdown  # shown only where the script runs
    assert 'data-url="https://app.prolific.com/submissions/complete?cc=C-OK"' in countdown
    assert "Stay on this page" in html and "http-equiv" not in html


def test_end_pages_say_how_the_study_ended(study):
    declined = Walker(Client(), study)
    declined.arrive()
    html = declined.post("consent", {"consent": "no"}).content.decode()
    assert "Ended before trial 1 of 3" in html and "Finished" not in html
    late = Walker(Client(), study)
    _to_trial_1(late)
    late.post("trial-1", late.answers_for("trial-1"))
    Participant.objects.filter(pk=late.participant.pk).update(
        started_at=timezone.now() - timedelta(minutes=61)
    )
    html = late.get("trial-2").content.decode()
    assert "The time limit for this study has passed" in html
    assert "Ended · 1 of 3 trials done" in html and "(1 of 3 problems) are saved" in html


@pytest.fixture
def with_practice(study) -> Stimulus:
    practice = Stimulus.objects.create(
        study=study, code="practice", context_facts=["A fact."], question="Practice?", gold_answers=["x"],
        model_answer="x", is_practice=True,
    )
    for condition in Condition.objects.filter(study=study):
        StimulusTrace.objects.create(
            stimulus=practice, condition=condition.code, text=f"practice {condition.code}"
        )
    Study.objects.filter(pk=study.pk).update(practice_trial=True)
    return practice


def test_the_practice_problem_comes_first_is_kept_and_never_analysed(study, with_practice, staff_client):
    walker = Walker(Client(), Study.objects.get(pk=study.pk))
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    html = walker.post("instructions", {}).content.decode()
    assert "Practice problem" in html and "your answers to it are not used" in html
    assert "Practice · before trial 1 of 3" in html
    participant = walker.participant
    assert participant.practice_stimulus == with_practice
    assert with_practice.pk not in participant.stimulus_sequence  # never drawn for a trial
    walker.complete()
    assert Response.objects.filter(participant=participant, stimulus=with_practice).count() == 8
    rows = [r for r in exports.long_rows(study, exports.ParticipantFilter()) if r[7] == "practice"]
    assert len(rows) == 8 and {r[5] for r in rows} == {None} and {r[6] for r in rows} == {1}
    from analysis.data import gather

    (person,) = gather(study).participants
    assert not any(stimulus == with_practice.pk for stimulus, _ in person.answers)
    assert len(person.readings) == 3  # the three trials; the practice page is not a trial


def test_a_practice_trial_without_a_practice_problem_keeps_the_study_from_going_live(study):
    study.status = Study.Status.DRAFT
    study.save()
    study.practice_trial = True
    study.status = Study.Status.LIVE
    with pytest.raises(ValidationError, match="no practice stimulus has a 'decomposition' trace"):
        study.save()
    study.status, study.attention_fail_limit = Study.Status.DRAFT, 3
    with pytest.raises(ValidationError, match="At most the number of checks"):
        study.full_clean()


def test_reading_measures_are_stored_when_sent_bad_ones_dropped_and_a_page_without_them_saves(client):
    study = make_study("reading", trials=4)
    walker = Walker(client, study)
    _to_trial_1(walker, viewport_width="390")
    assert walker.participant.viewport_width == 390
    # what the page's script sends, and the scroll depth an older copy of the page would send
    read_through = {"trace_visible_ms": "12345.6", "trace_end_seen": "1", "trace_end_first_seen_ms": "4000",
                    "trace_end_visible_ms": "8000.4", "trace_scroll_depth": "0.75"}
    garbage = {"trace_visible_ms": "abc", "trace_end_seen": "yes", "trace_end_first_seen_ms": "-5",
               "trace_end_visible_ms": "1e12"}
    never_at_the_end = {"trace_visible_ms": "900", "trace_end_seen": "0", "trace_end_first_seen_ms": "300",
                        "trace_end_visible_ms": "0"}
    for n, reading in enumerate([read_through, garbage, never_at_the_end, {}], start=1):
        response = walker.post(f"trial-{n}", {**walker.answers_for(f"trial-{n}"), **reading})
        next_page = f"/trial-{n + 1}/" if n < 4 else "/questionnaire/"
        assert response.redirect_chain and response.redirect_chain[-1][0].endswith(next_page), (
            n, response.status_code, response.content.decode()[:500]
        )
    participant = walker.participant
    assert participant.responses.exclude(stimulus=None).values("stimulus").distinct().count() == 4

    def measures(visit: PageVisit) -> tuple:
        return (visit.trace_visible_ms, visit.trace_end_seen, visit.trace_end_first_seen_ms,
                visit.trace_end_visible_ms, visit.trace_scroll_depth)

    visits = {v.page: v for v in PageVisit.objects.filter(participant=participant)}
    assert measures(visits["trial-1"]) == (12346, True, 4000, 8000, None)  # scroll depth: no longer kept
    assert measures(visits["trial-2"]) == (None, None, None, None, None)
    assert measures(visits["trial-3"]) == (900, False, None, 0, None)  # no time for an end never seen
    assert measures(visits["trial-4"]) == (None, None, None, None, None)  # no JavaScript

    # the exports carry them, yes/no as 1/0
    first = Stimulus.objects.get(pk=participant.stimulus_sequence[0]).code
    long = exports.long_table(study, exports.ParticipantFilter())
    rows = [dict(zip(long.header, row, strict=True)) for row in long.rows()]
    trial_1 = [r for r in rows if r["stimulus"] == first]
    reading = [name for name, _ in exports.READING_COLUMNS]
    assert trial_1 and all([r[name] for name in reading] == [12346, 1, 4000, 8000, None] for r in trial_1)
    pages = exports.page_times_table(study, exports.ParticipantFilter())
    by_page = {row[4]: dict(zip(pages.header, row, strict=True)) for row in pages.rows()}
    assert [by_page["trial-3"][name] for name in reading] == [900, 0, None, 0, None]
    wide = exports.wide_table(study, exports.ParticipantFilter())
    (row,) = [dict(zip(wide.header, r, strict=True)) for r in wide.rows()]
    assert [row[f"t1_{name}"] for name in reading] == [12346, 1, 4000, 8000, None]


def test_the_models_answer_comes_after_the_trace_unless_the_study_puts_it_before(walker, study):
    def order(page: str, *marks: str) -> list[int]:
        html = walker.get(page).content.decode()
        return [html.index(mark) for mark in marks]

    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    text, answer = order("instructions", "a text showing", "the <strong>answer</strong>")
    assert text < answer, "the instructions should list the answer after the text, as the page shows it"
    walker.post("instructions", {})
    trace, shown, ratings = order("trial-1", 'class="trace"', 'class="answer"', 'class="ratings"')
    assert trace < shown < ratings, "by default the answer comes after the trace and before the ratings"

    Study.objects.filter(pk=study.pk).update(answer_position="before")
    question, shown, trace, ratings = order(
        "trial-1", 'class="question"', 'class="answer"', 'class="trace"', 'class="ratings"'
    )
    assert question < shown < trace < ratings, "the study's setting puts the answer with the question"
    text, answer = order("instructions", "a text showing", "the <strong>answer</strong>")
    assert answer < text


def test_a_study_with_participants_keeps_the_answer_before_the_trace_when_the_setting_arrives(study, client):
    """The migration that adds the setting: a study under way keeps the layout its participants saw."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    (migration,) = [m for (app, name), m in loader.disk_migrations.items()
                    if app == "studyapp" and name.endswith("_reading_end_of_trace_and_answer_position")]
    (keep_layout,) = [op.code for op in migration.operations if isinstance(op, RunPython)]
    previewed = make_study("previewed")
    make_study("fresh")
    Walker(client, study).arrive()
    Walker(Client(), previewed).arrive()
    Participant.objects.filter(study=previewed).update(is_preview=True)
    keep_layout(django_apps, None)
    assert dict(Study.objects.values_list("slug", "answer_position")) == {
        study.slug: "before", "previewed": "after", "fresh": "after",
    }


def test_the_device_class_comes_from_the_browser_at_arrival(study):
    phone = Client(HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
    walker = Walker(phone, study)
    walker.arrive()
    assert walker.participant.device_class == "phone"
    desktop = Walker(Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0"), study)
    desktop.arrive()
    assert desktop.participant.device_class == "desktop"


def test_every_condition_shows_the_same_short_answer_and_a_decomposition_trace_as_steps(study):
    stimulus = study.stimuli.first()
    Stimulus.objects.filter(pk=stimulus.pk).update(
        model_answer="Liberal Federation", model_answer_original="Liberal Federation\n\n\\boxed{...}"
    )
    StimulusTrace.objects.filter(stimulus=stimulus, condition="decomposition").update(
        text="<think>The temporal relation between the event in question and the event in context is: "
        "equal.\nI need to use the following facts to answer the question: ['A is in B.', 'C is in D.']"
        "</think> <answer>['Liberal Federation']</answer>"
    )
    for code in ("decomposition", "r1"):
        walker = Walker(Client(), study)
        walker.arrive()
        Participant.objects.filter(pk=walker.participant.pk).update(
            condition=Condition.objects.get(study=study, code=code),
            stimulus_sequence=[
                stimulus.pk, *[s for s in walker.participant.stimulus_sequence if s != stimulus.pk][:2]
            ],
            trial_conditions=[code] * 3,
        )
        walker.post("consent", {"consent": "yes"})
        html = walker.post("instructions", {}).content.decode()
        assert '<p class="answer">Liberal Federation</p>' in html and "boxed" not in html
        if code == "decomposition":
            trace = re.search(r'<div class="trace"[^>]*>(.*?)</div>', html, re.S).group(1)
            assert "&lt;think&gt;" not in trace and "[&#x27;" not in trace and "answer&gt;" not in trace
            assert "<li>A is in B.</li><li>C is in D.</li>" in trace


def test_the_monitor_reloads_itself_and_shows_where_participants_are(study, staff_client):
    done = Walker(Client(), study)
    done.complete()
    on_trial = Walker(Client(), study)
    _to_trial_1(on_trial)
    Walker(Client(), study).arrive()
    html = staff_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert '<meta http-equiv="refresh" content="30">' in html and "Drawn at" in html
    assert "Median time to complete:" in html and "none completed yet" not in html
    assert re.search(r'<th scope="row">trial-1</th><td>1</td>', html)
    assert re.search(r'<th scope="row">consent</th><td>1</td>', html)
    first = Stimulus.objects.get(pk=done.participant.stimulus_sequence[0])
    assert f'<th scope="row">{first.code}</th>' in html
    assert 'class="button"' in html
    # a live study that stopped being ready says why (its traces can no longer be deleted: test_versions)
    Study.objects.filter(pk=study.pk).update(trials_per_participant=7)
    html = staff_client.get(reverse("studyapp:monitor", args=[study.slug])).content.decode()
    assert "The study is live but not ready" in html and "Condition &#x27;r1&#x27; has traces for 6" in html


def test_the_report_has_contents_reading_times_end_items_and_devices(study, staff_client):
    for _ in range(2):
        walker = Walker(Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64)"), study)
        _to_trial_1(walker)
        for n in (1, 2, 3):
            walker.post(f"trial-{n}", {**walker.answers_for(f"trial-{n}"), "trace_visible_ms": "20000"})
        walker.post("questionnaire", {**walker.answers_for("questionnaire"), "comment": ""})
    # the walkers answer fast and alike: keep them in
    options = {"format": "json", "speeders": "0", "straightlining": "0"}
    report = staff_client.get(reverse("analysis:report", args=[study.slug]), options).json()
    seconds = {m["key"]: m for m in report["reading"]}["trace_seconds"]
    rows = {d["condition"]: d for d in seconds["descriptives"]}
    assert sum(d["n"] for d in rows.values()) == 2
    assert all(d["mean"] == pytest.approx(20.0) for d in rows.values() if d["n"])
    assert report["end_items"], "the end-of-study items are reported"
    assert sum(d.get("desktop", 0) for d in report["devices"].values()) == 2
    html = staff_client.get(reverse("analysis:report", args=[study.slug])).content.decode()
    assert 'href="#reading"' in html and 'id="reading"' in html and 'href="#end-items"' in html


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    return client
