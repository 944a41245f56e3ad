"""Balanced assignment to conditions, re-opened slots, resumption, and the full study."""

import random
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from studyapp import content
from studyapp.allocation import StudyFull, StudyNotOpen, StudyNotReady, arrive, start_preview
from studyapp.models import Condition, Participant, Stimulus, StimulusTrace, Study
from tests.conftest import PAPER_CODES, make_study, new_pid

pytestmark = pytest.mark.django_db


def _counts(study) -> Counter:
    return Counter(
        Participant.objects.filter(study=study, is_preview=False).values_list("condition__code", flat=True)
    )


def test_arrivals_fill_every_condition_to_its_target_then_the_study_is_full():
    study = make_study(target=5)
    for _ in range(20):
        arrive(study, new_pid())
    assert _counts(study) == {"decomposition": 5, "r1": 5, "r1_summary": 5, "posthoc": 5}
    with pytest.raises(StudyFull):
        arrive(study, new_pid())
    assert Participant.objects.filter(study=study).count() == 20


def test_each_arrival_goes_to_a_least_filled_condition(study):
    for n in range(1, 13):
        arrive(study, new_pid())
        counts = [_counts(study)[code] for code in ("decomposition", "r1", "r1_summary", "posthoc")]
        assert max(counts) - min(counts) <= 1, f"unbalanced after {n} arrivals: {counts}"


def test_ties_are_broken_at_random(study):
    first_conditions = set()
    for seed in range(12):
        s = make_study(f"tie{seed}")
        first_conditions.add(arrive(s, new_pid(), rng=random.Random(seed)).condition.code)
    assert len(first_conditions) > 1


def test_returning_pid_resumes_the_same_record_and_condition(study):
    pid = new_pid()
    first = arrive(study, pid)
    for _ in range(7):
        arrive(study, new_pid())
    again = arrive(study, pid)
    assert again.pk == first.pk and again.condition == first.condition
    assert again.stimulus_sequence == first.stimulus_sequence


def test_participant_gets_a_stored_random_sequence_and_item_order(study):
    p = arrive(study, new_pid())
    assert len(p.stimulus_sequence) == study.trials_per_participant
    assert len(set(p.stimulus_sequence)) == len(p.stimulus_sequence)
    assert set(p.stimulus_sequence) <= set(study.stimuli.values_list("id", flat=True))
    trial_items = set(
        study.items.filter(scope="trial").exclude(construct="attention_check").values_list("id", flat=True)
    )
    assert sorted(p.item_order) == sorted(trial_items)
    # grouped by response scale: the six agreement items, then the two cognitive-load items
    constructs = [study.items.get(pk=pk).construct for pk in p.item_order]
    assert set(constructs[:6]) == {"predictability", "understandability", "faithfulness"}
    assert constructs[6:] == ["cognitive_load", "cognitive_load"]
    # two attention checks, on different trials, each among the agreement items it shares a scale with
    checks = p.attention_plan
    assert len(checks) == 2 and len({c["trial"] for c in checks}) == 2
    assert all(1 <= c["trial"] <= study.trials_per_participant and 1 <= c["position"] <= 7 for c in checks)
    check_items = study.items.filter(construct="attention_check").values_list("pk", flat=True)
    assert {c["item"] for c in checks} == set(check_items)
    orders = {tuple(arrive(study, new_pid()).item_order) for _ in range(8)}
    assert len(orders) > 1, "item order is not randomised per participant"


def test_slots_of_participants_past_the_time_limit_reopen_and_are_kept():
    study = make_study(target=1)
    old = [arrive(study, new_pid()) for _ in range(4)]
    with pytest.raises(StudyFull):
        arrive(study, new_pid())
    Participant.objects.filter(pk=old[0].pk).update(started_at=timezone.now() - timedelta(minutes=61))
    newcomer = arrive(study, new_pid())
    assert newcomer.condition == old[0].condition
    old[0].refresh_from_db()
    assert old[0].status == Participant.Status.TIMED_OUT
    assert Participant.objects.filter(study=study).count() == 5


def test_returned_participants_free_their_slot_but_completed_ones_do_not():
    study = make_study(target=1)
    ps = [arrive(study, new_pid()) for _ in range(4)]
    Participant.objects.filter(pk=ps[0].pk).update(status=Participant.Status.RETURNED)
    Participant.objects.filter(pk=ps[1].pk).update(
        status=Participant.Status.COMPLETED, started_at=timezone.now() - timedelta(days=2)
    )
    assert arrive(study, new_pid()).condition == ps[0].condition
    with pytest.raises(StudyFull):
        arrive(study, new_pid())


def test_screened_out_and_no_consent_participants_free_their_slot():
    study = make_study(target=1)
    ps = [arrive(study, new_pid()) for _ in range(4)]
    Participant.objects.filter(pk=ps[2].pk).update(status=Participant.Status.SCREENED_OUT)
    Participant.objects.filter(pk=ps[3].pk).update(status=Participant.Status.NO_CONSENT)
    taken = {arrive(study, new_pid()).condition for _ in range(2)}
    assert taken == {ps[2].condition, ps[3].condition}


@pytest.mark.parametrize("status", [Study.Status.DRAFT, Study.Status.PAUSED, Study.Status.CLOSED])
def test_studies_not_live_take_no_new_participants_but_existing_ones_resume(status):
    study = make_study()
    existing = arrive(study, new_pid())
    study.status = status
    study.save()
    with pytest.raises(StudyNotOpen):
        arrive(study, new_pid())
    assert arrive(study, existing.prolific_pid).pk == existing.pk


def test_previews_never_count_toward_a_condition():
    study = make_study(target=1, status=Study.Status.DRAFT)
    for _ in range(5):
        assert start_preview(study, "r1").is_preview
    study.status = Study.Status.LIVE
    study.save()
    assert arrive(study, new_pid()).condition.code in {"decomposition", "r1", "r1_summary", "posthoc"}
    assert _counts(study).total() == 1


def test_study_without_enough_stimuli_is_not_ready():
    study = make_study(n_stimuli=2, trials=3)
    with pytest.raises(StudyNotReady, match="fewer than the 3 trials"):
        arrive(study, new_pid())
    assert not Participant.objects.filter(study=study).exists()


def test_a_study_made_ready_by_an_edit_takes_the_next_arrival():
    """Arrivals draw from the per-process copy of the study's content: an edit must reach it."""
    study = make_study(n_stimuli=2, trials=3)
    with pytest.raises(StudyNotReady):
        arrive(study, new_pid())

    stimulus = Stimulus.objects.create(
        study=study, code="p-new", context_facts=["A fact."], question="Q?", gold_answers=["A"],
        model_answer="A",
    )
    for code in PAPER_CODES:
        StimulusTrace.objects.create(stimulus=stimulus, condition=code, text=f"{code} trace")

    participant = arrive(Study.objects.get(pk=study.pk), new_pid())
    assert stimulus.id in participant.stimulus_sequence


def test_a_condition_removed_from_a_study_gets_no_more_arrivals():
    study = Study.objects.get(pk=make_study().pk)  # at its current content version
    content.for_study(study)  # fills this process's copy of the study's conditions
    Condition.objects.get(study=study, code="posthoc").delete()  # before anyone took part

    codes = {arrive(Study.objects.get(pk=study.pk), new_pid()).condition.code for _ in range(12)}
    assert "posthoc" not in codes and len(codes) == 3
