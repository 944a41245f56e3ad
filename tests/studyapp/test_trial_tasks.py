"""Verification and simulation trials: what the pages show and refuse, what is stored and scored against
the ground truth, pilot bots with set accuracies per condition, and readiness."""

import math
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from studyapp import pages, services
from studyapp.models import PageVisit, Participant, Response, Stimulus, StimulusTrace, Study, TrialJudgement
from studyapp.study_setup import readiness_problems
from tests.conftest import Walker
from tests.studyapp.judged import HIDDEN, answer, simulation_study, verification_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def researcher(django_user_model):
    return django_user_model.objects.create_superuser("researcher", "r@example.org", "pw")


def started(study: Study) -> Walker:
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    return walker


def stimulus_of(walker: Walker, page: str):
    participant = walker.participant
    return participant.study.stimuli.get(pk=services.stimulus_id_for(participant, page))


def right_value(walker: Walker, page: str) -> str:
    from studyapp.pilot import right_answer

    return right_answer(walker.participant, page)


def assert_near(accuracy: float, target: float, n: int) -> None:
    """Within four binomial standard errors (the bots draw with a fixed seed: this never flickers)."""
    assert abs(accuracy - target) <= 4 * math.sqrt(target * (1 - target) / n) + 1e-9, (accuracy, target, n)


def check_scored_exactly(study: Study) -> dict[str, list[bool]]:
    """Every stored judgement's truth is the stimulus's ground truth and its correctness is the choice
    against it; returns correctness per condition."""
    by_condition: dict[str, list[bool]] = {}
    for judgement in TrialJudgement.objects.filter(participant__study=study).select_related("stimulus"):
        stimulus = judgement.stimulus
        if study.trial_task == "verification":
            truth = "yes" if stimulus.answer_correct(study.truth_definition) else "no"
            assert judgement.truth == truth and judgement.choice in ("yes", "no")
            assert judgement.correct == (judgement.choice == truth)
            assert judgement.options_shown == []
        else:
            assert judgement.truth == stimulus.model_answer
            assert sorted(judgement.options_shown) == sorted(stimulus.answer_candidates)
            listed = [c.strip().lower() for c in stimulus.answer_candidates]
            expected = (judgement.choice.strip().lower() == stimulus.model_answer.lower()
                        if judgement.choice else stimulus.model_answer.lower() not in listed)
            assert judgement.correct == expected
        assert 1 <= judgement.confidence <= 5 and judgement.task == study.trial_task
        by_condition.setdefault(judgement.condition, []).append(judgement.correct)
    return by_condition


@pytest.mark.parametrize("build", [verification_study, simulation_study])
def test_bots_with_set_accuracies_are_scored_exactly_against_the_ground_truth(build, researcher, capsys):
    study = build(target=15)
    call_command("pilot", study.slug, "--participants", "30", "--seed", "7",
                 "--accuracy", "steps=0.9,plain=0.6")
    assert "All 30 bots reached the completion page" in capsys.readouterr().out
    by_condition = check_scored_exactly(study)
    assert sorted(by_condition) == ["plain", "steps"]
    for code, target in (("steps", 0.9), ("plain", 0.6)):
        outcomes = by_condition[code]
        assert len(outcomes) == 15 * 4
        assert_near(sum(outcomes) / len(outcomes), target, len(outcomes))
    # one judgement per trial, in the trial's condition, with the server's time
    for bot in Participant.objects.filter(study=study):
        judged = TrialJudgement.objects.filter(participant=bot)
        assert sorted(judged.values_list("stimulus_id", flat=True)) == sorted(bot.stimulus_sequence)
        assert set(judged.values_list("condition", flat=True)) == {bot.condition.code}
        assert all(ms is not None for ms in judged.values_list("server_ms", flat=True))
    if study.trial_task == "simulation":  # "none of these" was the right answer on some and was scored so
        assert TrialJudgement.objects.filter(participant__study=study, choice="", correct=True).exists()


def test_random_bots_and_bad_accuracies(researcher, capsys):
    study = verification_study()
    call_command("pilot", study.slug, "--participants", "2", "--seed", "1")
    assert TrialJudgement.objects.filter(participant__study=study).count() == 8
    check_scored_exactly(study)
    for accuracy, said in (("steps=1.5", "probability from 0 to 1"), ("nope=0.5", "does not have"),
                           ("steps", "condition=probability")):
        with pytest.raises(CommandError, match=said):
            call_command("pilot", study.slug, "--accuracy", accuracy)
    rating = verification_study("rating-one")
    Study.objects.filter(pk=rating.pk).update(trial_task="rating")
    with pytest.raises(CommandError, match="verification and simulation studies"):
        call_command("pilot", "rating-one", "--accuracy", "steps=0.5")


def nothing_stored(walker: Walker, pages_done: int) -> None:
    participant = walker.participant
    assert participant.pages_done == pages_done
    assert not TrialJudgement.objects.filter(participant=participant).exists()
    assert not Response.objects.filter(participant=participant, stimulus__isnull=False).exists()


def test_verification_page_refuses_bad_input_with_a_clear_message_and_stores_nothing():
    walker = started(verification_study())
    page = "trial-1"
    html = walker.get(page).content.decode()
    assert "Is the model&#x27;s answer correct?" in html and "Completely confident" in html
    assert ('name="judgement" value="yes"' in html and answer(stimulus_of(walker, page).pk - 1)) or True
    items = walker.answers_for(page)
    done = walker.participant.pages_done
    cases = [
        ({"confidence": "3"}, "Please answer whether the model&#x27;s answer is correct."),
        ({"judgement": "maybe", "confidence": "3"}, "Choose one of the answers offered."),
        ({"judgement": "yes"}, "Please say how confident you are."),
        ({"judgement": "yes", "confidence": "6"}, "Choose one of the points 1 to 5."),
        ({"judgement": "yes", "confidence": "x"}, "Choose one of the points 1 to 5."),
    ]
    for sent, message in cases:
        response = walker.post(page, {**items, **sent})
        body = response.content.decode()
        assert response.status_code == 400 and message in body, sent
        assert 'id="error-summary"' in body and "Your answers were not saved yet." in body
        nothing_stored(walker, done)
    # an item missing is refused too, with the judgement kept as sent
    partial = {k: v for k, v in items.items() if not k.startswith("item-predictability")}
    response = walker.post(page, {**partial, "judgement": "no", "confidence": "2"})
    assert response.status_code == 400 and 'value="no" checked' in response.content.decode()
    nothing_stored(walker, done)
    walker.post(page, {**items, "judgement": "no", "confidence": "2", "choice_ms": "1834"})
    stored = TrialJudgement.objects.get(participant=walker.participant)
    assert (stored.choice, stored.confidence, stored.choice_ms) == ("no", 2, 1834)
    assert stored.correct == (stored.truth == "no") and stored.task == "verification"
    # the saved page, gone back to, is read-only with the judgement as saved
    back = walker.get(page).content.decode()
    assert 'value="no" checked disabled' in back and "Save and continue" not in back


@pytest.mark.parametrize("sent", ["", "abc", "-1", "86400001", "1.5e99"])
def test_a_choice_time_that_is_not_a_whole_number_of_ms_up_to_a_day_is_dropped(sent):
    walker = started(verification_study())
    walker.post("trial-1", {**walker.answers_for("trial-1"), "judgement": "yes", "confidence": "5",
                            "choice_ms": sent})
    assert TrialJudgement.objects.get(participant=walker.participant).choice_ms is None


def test_simulation_prediction_page_hides_the_answer_and_refuses_bad_input():
    study = simulation_study(n_stimuli=8, trials=8)
    walker = started(study)
    participant = walker.participant
    assert pages.page_keys(participant)[2:6] == ["predict-1", "trial-1", "predict-2", "trial-2"]
    for n in range(1, 9):
        page = f"predict-{n}"
        stimulus = stimulus_of(walker, page)
        html = walker.get(page).content.decode()
        trace = StimulusTrace.objects.get(stimulus=stimulus, condition=participant.condition.code)
        assert trace.text not in html and "model-answer" not in html
        assert trace.masked_text in html
        listed = [c.strip().lower() for c in stimulus.answer_candidates]
        if stimulus.model_answer.lower() not in listed:
            assert stimulus.model_answer.lower() not in html.lower()
        shown = re.findall(r'name="prediction" value="(\d+)"[^>]*> ([^<]+)</label>', html)
        assert [label for _, label in shown][-1] == "None of these"
        assert sorted(label.strip() for _, label in shown[:-1]) == sorted(c.strip() for c in
                                                                          stimulus.answer_candidates)
        assert "Your ratings" not in html
        done = walker.participant.pages_done
        refused = (({"confidence": "3"}, "Please choose which answer you think the model will give."),
                   ({"prediction": str(len(shown)), "confidence": "3"}, "Choose one of the answers"),
                   ({"prediction": "1", "confidence": "0"}, "Choose one of the points 1 to 5."))
        for sent, message in refused:
            response = walker.post(page, {"stimulus": stimulus.pk, **sent})
            assert response.status_code == 400 and message in response.content.decode()
            assert walker.participant.pages_done == done
            assert not TrialJudgement.objects.filter(participant=participant, stimulus=stimulus).exists()
        chosen = "1"
        walker.post(page, {"stimulus": stimulus.pk, "prediction": chosen, "confidence": "4"})
        judgement = TrialJudgement.objects.get(participant=participant, stimulus=stimulus)
        assert judgement.choice == judgement.options_shown[0]
        assert [o.strip() for o in judgement.options_shown] == [label.strip() for _, label in shown[:-1]]
        reveal = walker.last.content.decode()
        assert walker.last.request["PATH_INFO"].endswith(f"/trial-{n}/")
        assert trace.text in reveal and stimulus.model_answer in reveal and "You predicted" not in reveal
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    assert TrialJudgement.objects.filter(participant=participant).count() == 8


def test_a_saved_prediction_is_read_only_and_keeps_the_masked_text_shown():
    study = simulation_study()
    Study.objects.filter(pk=study.pk).update(simulation_feedback=True)
    study.refresh_from_db()
    walker = started(study)
    stimulus = stimulus_of(walker, "predict-1")
    first = walker.get("predict-1").content.decode()
    trace = StimulusTrace.objects.get(stimulus=stimulus, condition=walker.participant.condition.code)
    trace.masked_text = "A corrected mask."
    trace.save()
    assert "A corrected mask." not in walker.get("predict-1").content.decode()  # a refresh: as first shown
    visit = PageVisit.objects.get(participant=walker.participant, page="predict-1")
    assert visit.trace_version.masked_text.endswith(f"{HIDDEN}.") and HIDDEN in first
    walker.post("predict-1", {"stimulus": stimulus.pk, "prediction": "0", "confidence": "1"})
    judgement = TrialJudgement.objects.get(participant=walker.participant)
    assert judgement.choice == "" and judgement.correct == (judgement.truth.lower() not in [
        c.strip().lower() for c in stimulus.answer_candidates])
    reveal = walker.last.content.decode()
    assert "You predicted: <strong>None of these</strong>" in reveal
    assert ("did not match" in reveal) != judgement.correct
    back = walker.get("predict-1").content.decode()
    assert 'value="0" checked disabled' in back and "A corrected mask." not in back
    again = walker.post("predict-1", {"stimulus": stimulus.pk, "prediction": "1", "confidence": "5"})
    assert again.request["PATH_INFO"].endswith("/trial-1/")
    assert TrialJudgement.objects.filter(participant=walker.participant).count() == 1
    assert TrialJudgement.objects.get(participant=walker.participant).choice == ""
    assert services.progress_label(walker.participant, "predict-1") == "Trial 1 of 4 · your prediction"


def test_instructions_describe_the_task():
    verify = started(verification_study()).get("instructions")
    # instructions are saved by then: shown read-only, the text is the same
    assert "whether the model's answer is" in verify.content.decode()
    simulate = started(simulation_study()).get("instructions").content.decode()
    assert "predict which answer the model gave" in simulate and "each on two pages" in simulate


def test_a_study_without_items_walks_with_the_judgement_alone(researcher, capsys):
    study = simulation_study("bare", items=False)
    assert readiness_problems(study) == []
    call_command("pilot", "bare", "--participants", "2", "--accuracy", "steps=1,plain=0")
    by_condition = check_scored_exactly(study)
    assert by_condition == {"steps": [True] * 4, "plain": [False] * 4}
    assert not Response.objects.filter(participant__study=study, stimulus__isnull=False).exists()


def test_verification_refuses_to_go_live_without_ground_truth_or_without_right_and_wrong_answers():
    study = verification_study(live=False)
    assert readiness_problems(study) == []
    first = study.stimuli.get(code="q00")
    first.grades = {}
    first.save()
    [problem] = readiness_problems(study)
    assert "1 stimuli have no 'strict' answer grade (grades.answer_strict): q00." in problem
    for stimulus in study.stimuli.all():
        stimulus.grades = {"answer_strict": True, "answer_published": False}
        stimulus.save()
    assert readiness_problems(study) == [
        "A verification study needs both right and wrong model answers among its stimuli; it has 8 right "
        "and 0 wrong (strict grades)."
    ]
    study.status = Study.Status.LIVE
    with pytest.raises(ValidationError, match="8 right and 0 wrong"):
        study.save()
    Study.objects.filter(pk=study.pk).update(truth_definition="published")
    study.refresh_from_db()
    assert "0 right and 8 wrong (published grades)" in readiness_problems(study)[0]


def test_simulation_refuses_stimuli_without_candidates_or_masked_texts():
    study = simulation_study(live=False)
    stimulus = study.stimuli.get(code="q01")
    stimulus.answer_candidates = []
    stimulus.save()
    trace = StimulusTrace.objects.get(stimulus__code="q02", stimulus__study=study, condition="plain")
    trace.masked_text, trace.mask_note = "", "the answer is stated three times"
    trace.save()
    assert readiness_problems(study) == [
        "A simulation study offers each stimulus's answer candidates: 1 stimuli have none: q01.",
        "A simulation study shows each text with the model's answer withheld: 1 texts have no masked text: "
        "q02 (plain: the answer is stated three times).",
    ]


def test_grades_and_the_truth_definitions():
    study = verification_study()
    stimulus = study.stimuli.get(code="q00")
    assert stimulus.answer_correct("strict") is True and stimulus.trace_correct("strict") is True
    assert stimulus.answer_correct("intended") is None and stimulus.trace_correct("published") is None
    stimulus.grades = {"answer_strict": "yes"}
    with pytest.raises(ValidationError, match="answer_strict must be true, false or null"):
        stimulus.full_clean()
    stimulus.grades = {"answer_loose": True}
    with pytest.raises(ValidationError, match="Unknown grade 'answer_loose'"):
        stimulus.full_clean()
    study.confidence_anchors = ["a", "b"]
    with pytest.raises(ValidationError, match="exactly 5 non-empty labels"):
        study.full_clean()


def test_the_admin_shows_the_task_fields_grades_candidates_and_masked_texts(admin_client):
    from django.urls import reverse

    study = simulation_study(live=False)
    form = admin_client.get(reverse("admin:studyapp_study_change", args=[study.pk])).content.decode()
    for name in ("trial_task", "truth_definition", "confidence_anchors", "simulation_feedback"):
        assert f'name="{name}"' in form
    stimulus = study.stimuli.get(code="q00")
    page = admin_client.get(reverse("admin:studyapp_stimulus_change", args=[stimulus.pk])).content.decode()
    assert 'name="grades"' in page and 'name="answer_candidates"' in page
    assert "strict: answer right, trace right; published: answer right" in page
    assert 'name="traces-0-masked_text"' in page and "final answer masked" in page
    assert "steps reasoning for q00. So: [answer hidden]." in page


def test_a_stimulus_keeps_its_candidates_once_predictions_were_made_on_it(researcher, capsys):
    study = simulation_study()
    stimulus = study.stimuli.first()
    stimulus.answer_candidates = [*stimulus.answer_candidates, "Someone else"]
    stimulus.full_clean()  # nobody has judged it: the candidates may change
    stimulus.save()
    call_command("pilot", study.slug, "--participants", "4", "--seed", "2")
    judged = Stimulus.objects.filter(judgements__isnull=False).distinct().first()
    judged.answer_candidates = list(reversed(judged.answer_candidates))
    with pytest.raises(ValidationError, match="The candidates cannot change: participants have made"):
        judged.full_clean()
