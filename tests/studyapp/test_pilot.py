"""Pilot bots: `manage.py pilot <slug>` and the studies' admin action walk simulated participants through
a study before launch; the monitor shows each run and its failures with the problem behind each page."""

import re
import time
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from studyapp import allocation, tasks, views
from studyapp.models import Condition, Participant, Pilot, Response, StimulusTrace, Study
from tests.conftest import make_study, queued_messages
from tests.studyapp.test_designed_pages import add_seven_point_item, make_within
from tests.traces.test_lifecycle import point_the_queue_at_nothing

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")


def test_bots_walk_a_draft_study_to_the_completion_code_and_count_toward_nothing(researcher, capsys):
    study = make_study("draft", status=Study.Status.DRAFT)
    call_command("pilot", "draft", "--participants", "8", "--seed", "3")
    out = capsys.readouterr().out
    assert out.count("code C-OK") == 8 and "All 8 bots reached the completion page" in out
    bots = Participant.objects.filter(study=study)
    assert bots.count() == 8 and all(p.is_preview for p in bots)
    assert sorted(bots.values_list("condition__code", flat=True)) == sorted(
        ["decomposition", "r1", "r1_summary", "posthoc"] * 2
    )
    assert set(bots.values_list("status", flat=True)) == {Participant.Status.COMPLETED}
    # three trials of 8 items (+ 2 attention checks in all) and the end questionnaire, every one stored
    per_bot = {p.pk: Response.objects.filter(participant=p).count() for p in bots}
    assert len(set(per_bot.values())) == 1 and next(iter(per_bot.values())) > 3 * 8
    assert not Participant.objects.real().filter(study=study).exists()
    assert sum(allocation.slots_taken(study, study.created_at).values()) == 0


def test_a_run_repeated_with_its_seed_walks_the_same_trials_and_answers(researcher):
    make_study("repeat", status=Study.Status.DRAFT)

    def run() -> list[tuple]:
        call_command("pilot", "repeat", "--participants", "4", "--seed", "9")
        bots = Participant.objects.filter(pilot=Pilot.objects.latest("pk")).order_by("pk")
        answers = Response.objects.values_list("stimulus_id", "item_id", "value")
        return [(p.condition.code, p.stimulus_sequence, p.item_order, p.attention_plan,
                 sorted(answers.filter(participant=p), key=str)) for p in bots]

    assert run() == run()


def test_bots_failing_the_checks_get_the_failed_attention_code(researcher, capsys):
    make_study("checks")
    call_command("pilot", "checks", "--participants", "2", "--attention", "fail", "--answers", "2")
    out = capsys.readouterr().out
    assert out.count("2 checks failed, code C-ATTN") == 2
    values = Response.objects.filter(participant__study__slug="checks", item__construct="predictability")
    assert set(values.values_list("value", flat=True)) == {2}


def test_a_study_that_is_not_ready_fails_the_pilot_with_the_reason(researcher, capsys):
    study = make_study("broken", status=Study.Status.DRAFT)
    StimulusTrace.objects.filter(stimulus__study=study, condition="posthoc").delete()
    with pytest.raises(CommandError, match="1 of 4 bots ran into a failing page"):
        call_command("pilot", "broken", "--participants", "4")
    out = capsys.readouterr().out
    assert "posthoc" in out and "HTTP 400" in out and "Condition 'posthoc' has traces for 0 stimuli" in out


def break_the_trace(monkeypatch, text: str) -> None:
    """Trial pages showing this trace text fail with a server error, as a template bug would."""
    real = views.render_trace

    def breaks(trace_text: str) -> str:
        if trace_text == text:
            raise RuntimeError("template bug")
        return real(trace_text)

    monkeypatch.setattr(views, "render_trace", breaks)


def test_a_page_that_breaks_is_reported_with_the_problem_behind_it(researcher, capsys, monkeypatch, client):
    """Not just "trial-2": which stimulus, which condition's trace (and its id), on the command line
    and on the monitor."""
    study = make_study("crashing", n_stimuli=3, trials=3)  # every bot sees every stimulus
    broken = StimulusTrace.objects.get(stimulus__study=study, stimulus__code="p1", condition="posthoc")
    break_the_trace(monkeypatch, broken.text)
    with pytest.raises(CommandError, match="1 of 4 bots"):
        call_command("pilot", "crashing", "--participants", "4")
    out = capsys.readouterr().out
    assert re.search(rf"trial-\d \(stimulus p1, posthoc trace #{broken.pk}\): HTTP 500", out), out
    assert out.count("code C-OK") == 3

    client.force_login(researcher)
    monitor = client.get(reverse("studyapp:monitor", args=["crashing"])).content.decode()
    row = re.search(r"<h2>Pilot bots</h2>.*?</table>", monitor, re.DOTALL).group(0)
    assert "(command line)" in row and "<td>4 / 4</td><td>3</td><td>1</td>" in row
    failure = rf"bot 4 \(posthoc\): trial-\d \(stimulus p1, posthoc trace #{broken.pk}\): HTTP 500"
    assert re.search(failure, row)
    assert "correct p1</a>" in row


@pytest.fixture
def study_editor(django_user_model):
    """Staff who may change studies (and view the rest), not a superuser."""
    user = django_user_model.objects.create_user("editor", password="pw-editor-1234", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_study", "change_study"]))
    client = Client()
    client.force_login(user)
    return user, client


def run_pilot_bots(client, study: Study, **form):
    return client.post(reverse("admin:studyapp_study_changelist"), {
        "action": "run_pilot_bots", "_selected_action": [study.pk], "apply": "1", **form,
    }, follow=True)


def test_a_researcher_runs_pilot_bots_from_the_admin_and_the_monitor_shows_them(
    study_editor, django_capture_on_commit_callbacks, filesystem_broker
):
    """The action stores the run and sends it to the default queue; the request does not walk the bots
    (a worker does: here the task's body, as the worker runs it). The monitor shows when, how many, and
    how many reached the completion page; the bots count toward nothing."""
    user, client = study_editor
    study = make_study("piloted", status=Study.Status.DRAFT)
    listing = client.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert "Run N pilot bots through the selected studies" in listing
    form = client.post(reverse("admin:studyapp_study_changelist"),
                       {"action": "run_pilot_bots", "_selected_action": [study.pk]})
    assert form.status_code == 200 and 'name="bots"' in form.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = run_pilot_bots(client, study, bots="4", answers="random", attention="pass", seed="7")
    said = [str(m) for m in get_messages(response.wsgi_request)]
    assert said == ["piloted: 4 pilot bots sent to a worker; "
                    '<a href="/study/piloted/monitor/">the monitor</a> shows how they do.']
    pilot = Pilot.objects.get()
    assert (pilot.study, pilot.bots, pilot.requested_by, pilot.seed) == (study, 4, user, 7)
    assert pilot.status == Pilot.Status.QUEUED and not pilot.error  # sent, waiting for a worker
    assert len(queued_messages(filesystem_broker, "celery", "studyapp.run_pilot", pilot.pk)) == 1
    assert not Participant.objects.exists()
    monitor = client.get(reverse("studyapp:monitor", args=["piloted"])).content.decode()
    assert "Waiting for a worker" in monitor and "celery -A tracestudy worker -B" in monitor

    tasks.run_pilot(pilot.pk)
    pilot.refresh_from_db()
    assert pilot.status == Pilot.Status.FINISHED and (pilot.bots_run, pilot.bots_completed) == (4, 4)
    assert pilot.failures == []
    bots = Participant.objects.filter(study=study)
    assert bots.count() == 4 and all(p.is_preview for p in bots) and not Participant.objects.real().exists()
    monitor = client.get(reverse("studyapp:monitor", args=["piloted"])).content.decode()
    row = re.search(r"<h2>Pilot bots</h2>.*?</table>", monitor, re.DOTALL).group(0)
    assert "editor (admin)" in row and "<td>4 / 4</td><td>4</td><td>0</td>" in row and "Finished" in row
    assert f"{pilot.created_at:%Y-%m-%d %H:%M:%S} UTC" in row
    assert "<strong>0 of 100</strong> participants completed" in monitor  # the bots count toward nothing
    tasks.run_pilot(pilot.pk)  # a second delivery of its message walks nothing again
    assert Participant.objects.filter(study=study).count() == 4


def test_a_staff_member_who_may_only_view_studies_cannot_run_pilot_bots(django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="pw-viewer-1234", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(viewer)
    study = make_study("viewed", status=Study.Status.DRAFT)
    listing = client.get(reverse("admin:studyapp_study_changelist")).content.decode()
    assert "run_pilot_bots" not in listing
    run_pilot_bots(client, study, bots="2", answers="random", attention="pass")
    assert not Pilot.objects.exists() and not Participant.objects.exists()


def test_with_the_queue_down_the_action_says_so_and_stores_nothing(study_editor, monkeypatch):
    _, client = study_editor
    study = make_study("unqueued", status=Study.Status.DRAFT)
    point_the_queue_at_nothing(monkeypatch)
    response = run_pilot_bots(client, study, bots="2", answers="random", attention="pass")
    said = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert said.startswith("unqueued: no bots sent. the job queue (redis://127.0.0.1:1/0) cannot be reached")
    assert not Pilot.objects.exists()


def test_without_a_staff_account_the_pilot_says_how_to_make_one():
    make_study("lonely")
    with pytest.raises(CommandError, match="createsuperuser"):
        call_command("pilot", "lonely")
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        call_command("pilot", "nope")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pilot_bots_asked_for_in_the_admin_run_on_a_default_queue_worker(study_editor):
    """With the production broker and database: a Celery worker on the default queue walks them."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL (CI does)")
    import redis
    from celery.contrib.testing.worker import start_worker

    from tracestudy.celery import app

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("celery")  # what earlier tests left there
    _, client = study_editor
    study = make_study("worked", status=Study.Status.DRAFT)
    run_pilot_bots(client, study, bots="3", answers="2", attention="pass")
    pilot = Pilot.objects.get()
    with start_worker(app, pool="solo", queues=["celery"], perform_ping_check=False, shutdown_timeout=60):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not pilot.finished_at:
            time.sleep(0.1)
            pilot.refresh_from_db()
    assert pilot.status == Pilot.Status.FINISHED, pilot.error
    assert (pilot.bots_run, pilot.bots_completed) == (3, 3)
    assert set(Response.objects.filter(participant__study=study, item__construct="predictability")
               .values_list("value", flat=True)) == {2}


# --- designed studies: within participants, 7-point items, attrition ----------------------------------


def completed_counts(study: Study) -> tuple[Counter, Counter]:
    """Over the bots that completed: how often each (stimulus, condition) was read, and each condition
    order (the trials' conditions in turn)."""
    cells, orders = Counter(), Counter()
    completed = Participant.objects.filter(study=study, status=Participant.Status.COMPLETED)
    for sequence, conditions in completed.values_list("stimulus_sequence", "trial_conditions"):
        cells.update(zip(sequence, conditions, strict=True))
        orders[tuple(conditions)] += 1
    return cells, orders


def test_bots_walk_a_within_study_with_seven_point_items_and_attrition_until_it_is_full(researcher, capsys):
    """Every trial in its own condition; random ratings on each item's own scale, a reverse-keyed item
    answered like any other; the leavers stop at a random trial, are marked returned with every answer
    kept, and their lists and rows go to later bots: the bots that complete fill the study exactly, each
    stimulus read once in each condition, the Latin square's rows equally often."""
    study = make_within("within-bots", status=Study.Status.DRAFT)  # 8 stimuli, 4 trials, target 8
    add_seven_point_item(study, reverse_keyed=True)
    call_command("pilot", "within-bots", "--participants", "30", "--leave", "0.3", "--seed", "11")
    out = capsys.readouterr().out
    bots = Participant.objects.filter(study=study)
    left = bots.filter(status=Participant.Status.RETURNED)
    assert bots.filter(status=Participant.Status.COMPLETED).count() == 8 and left.count() >= 2
    assert bots.count() == 8 + left.count() and set(bots.values_list("status", flat=True)) == {
        Participant.Status.COMPLETED, Participant.Status.RETURNED}
    assert all(p.is_preview and p.condition is None for p in bots)
    assert not Participant.objects.real().exists()
    assert f"The study was full after {bots.count()} bots" in out
    assert f"8 bots reached the completion page of 'within-bots' and {left.count()} left part-way" in out
    assert out.count(" within list ") == bots.count() and out.count("(marked returned)") == left.count() + 1

    cells, orders = completed_counts(study)
    assert len(cells) == 8 * 4 and set(cells.values()) == {1}
    assert len(orders) == 4 and set(orders.values()) == {2}
    answered_before_leaving = []
    for leaver in left:  # stopped on a trial, unanswered; what it answered before is kept
        trials_answered = Response.objects.filter(participant=leaver, stimulus__isnull=False).values(
            "stimulus").distinct().count()
        assert leaver.pages_done == 2 + trials_answered < 2 + 4
        assert re.search(rf"left at trial-{trials_answered + 1} \(marked returned\)", out)
        answered_before_leaving.append(trials_answered)
    assert max(answered_before_leaving) > 0

    clarity = Response.objects.filter(item__code="clarity_1", participant__study=study)
    assert clarity.count() >= 8 * 4 and set(clarity.values_list("value", flat=True)) <= set(range(1, 8))
    assert max(clarity.values_list("value", flat=True)) > 5  # the whole 7-point scale is used
    pilot = Pilot.objects.get()
    assert (pilot.leave, pilot.bots_run, pilot.bots_completed, pilot.bots_left) == (
        0.3, bots.count(), 8, left.count())
    assert pilot.failures == []


def test_between_bots_with_attrition_fill_every_condition_with_balanced_lists(researcher, capsys):
    study = make_study("between-bots", n_stimuli=6, target=3, trials=2, status=Study.Status.DRAFT)
    Condition.objects.filter(study=study, code="posthoc").delete()  # three conditions, three lists each
    call_command("pilot", "between-bots", "--participants", "40", "--leave", "0.4", "--seed", "1")
    out = capsys.readouterr().out
    completed = Participant.objects.filter(study=study, status=Participant.Status.COMPLETED)
    assert completed.count() == 9 and Participant.objects.filter(
        study=study, status=Participant.Status.RETURNED).exists()
    cells, _ = completed_counts(study)
    assert len(cells) == 6 * 3 and set(cells.values()) == {1}
    for code in ("decomposition", "r1", "r1_summary"):
        lists = completed.filter(condition__code=code).values_list("stimulus_list", flat=True)
        assert sorted(lists) == [0, 1, 2]
        assert re.search(rf"bot +\d+ {code} list \d", out)


def test_fixed_ratings_stay_on_every_items_scale_or_are_refused_before_any_bot_walks(researcher, capsys):
    study = make_study("fixed", status=Study.Status.DRAFT)
    add_seven_point_item(study)
    call_command("pilot", "fixed", "--participants", "2", "--answers", "3")
    rated = Response.objects.exclude(item__construct="attention_check")
    assert set(rated.values_list("value", flat=True)) == {3}
    with pytest.raises(CommandError, match=r"A fixed rating of 6 is off the scale of 12 of the study's items "
                       r"\(predictability_1, predictability_2, understandability_1, understandability_2, "
                       r"faithfulness_1 and 7 more\), the shortest of 5 points: choose 1 to 5, or random."):
        call_command("pilot", "fixed", "--participants", "2", "--answers", "6")
    with pytest.raises(CommandError, match="leave is the share of bots that stop part-way, from 0 to 1"):
        call_command("pilot", "fixed", "--leave", "1.5")
    assert Pilot.objects.count() == 1 and Participant.objects.count() == 2  # the refused runs stored nothing


def test_the_admin_asks_for_attrition_and_refuses_a_rating_off_the_scale(
    study_editor, django_capture_on_commit_callbacks, filesystem_broker
):
    _, client = study_editor
    study = make_study("admin-leave", status=Study.Status.DRAFT)
    form = client.post(reverse("admin:studyapp_study_changelist"),
                       {"action": "run_pilot_bots", "_selected_action": [study.pk]}).content.decode()
    assert 'name="leave"' in form and "marked returned" in form
    with django_capture_on_commit_callbacks(execute=True):
        run_pilot_bots(client, study, bots="5", answers="random", attention="pass", leave="0.4")
    assert Pilot.objects.get().leave == 0.4
    response = run_pilot_bots(client, study, bots="5", answers="7", attention="pass")
    said = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "admin-leave: no bots sent. A fixed rating of 7 is off the scale of 12 of the study's items" in (
        said)
    assert Pilot.objects.count() == 1


def test_a_failing_page_of_a_within_study_names_the_trials_condition_and_trace(researcher, capsys,
                                                                               monkeypatch):
    study = make_within("within-crash", n_stimuli=4, target=4, status=Study.Status.DRAFT)
    broken = StimulusTrace.objects.get(stimulus__study=study, stimulus__code="p1", condition="r1_summary")
    break_the_trace(monkeypatch, broken.text)
    with pytest.raises(CommandError, match="of 4 bots ran into a failing page"):
        call_command("pilot", "within-crash", "--participants", "4")
    out = capsys.readouterr().out
    # every bot reads p1 once, in one of the four conditions: the one that reads it in r1_summary fails
    failure = rf"trial-\d \(stimulus p1, r1_summary trace #{broken.pk}\): HTTP 500"
    assert len(re.findall(failure, out)) == 1, out
    (entry,) = Pilot.objects.get().failures
    assert (entry["bot_condition"], entry["stimulus"], entry["condition"], entry["trace_id"]) == (
        "within", "p1", "r1_summary", broken.pk)
