"""Counterbalancing: every stimulus read equally often in every condition, over the participants who hold
a place; within participants, each participant reads every condition equally often, in an order from a
balanced Latin square. The pure rules first, then arrivals through the entry page."""

from __future__ import annotations

import random
from collections import Counter
from itertools import pairwise

import pytest
from django.test import Client

from studyapp import counterbalancing as cb
from studyapp.models import Condition, Participant, Stimulus, StimulusTrace, Study
from studyapp.study_setup import readiness_problems
from tests.conftest import Walker, make_study


def test_lists_handed_out_in_order_keep_every_stimulus_within_one_of_the_others():
    stimuli = list(range(100, 116))  # the paper's 16 problems, 5 a participant
    assert cb.list_count(16, 5) == 16
    drawn: Counter = Counter()
    for k in range(40):
        drawn.update(cb.stimulus_list(stimuli, 5, k))
        assert max(drawn.values()) - min(drawn[s] for s in stimuli) <= 1, k
        if (k + 1) % 16 == 0:
            assert set(drawn.values()) == {5 * (k + 1) // 16}  # exact at every 16 participants


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_the_williams_square_balances_positions_and_what_follows_what(n):
    square = cb.williams_square(n)
    assert len(square) == (n if n % 2 == 0 else 2 * n)
    for position in range(n):
        assert Counter(row[position] for row in square) == Counter({c: len(square) // n for c in range(n)})
    follows = Counter(pair for row in square for pair in pairwise(row))
    assert len(set(follows.values())) == 1 and len(follows) == n * (n - 1)


def test_within_each_participant_reads_every_condition_equally_and_the_cells_cross_exactly():
    stimuli, conditions = list(range(12)), ["a", "b", "c"]
    cells = cb.list_count(12, 6) * 3
    read_in: Counter = Counter()
    for cell in range(cells):
        rng = random.Random(cell)
        sequence, trial_conditions = cb.within_trials(stimuli, conditions, 6, cell, cell % 6, rng)
        assert Counter(trial_conditions) == {"a": 2, "b": 2, "c": 2} and len(set(sequence)) == 6
        read_in.update(zip(sequence, trial_conditions, strict=True))
    assert set(read_in.values()) == {1} and len(read_in) == 12 * 3  # each stimulus once in each condition


def test_designs_that_cannot_run_say_what_would():
    (within,) = cb.design_problems("within", 4, 5, 16)
    assert "multiple of the 4 conditions" in within and "4, 8 would work" in within
    assert cb.design_problems("between", 1, 5) == ["A study compares 2 to 12 conditions; this one has 1."]
    assert "only 3 have texts" in cb.design_problems("within", 2, 4, 3)[0]
    note = cb.balance_note("between", 4, 15, 5, 25)
    assert note.startswith("With 15 problems and 5 trials each")
    assert "multiples of 3 participants per condition (24 or 27 near 25)" in note
    assert cb.balance_note("between", 4, 15, 5, 24) == ""


# --- through the entry page ---------------------------------------------------------------------


def shown_per_condition(study: Study) -> Counter:
    """(stimulus id, condition code) -> how often it is read, over those holding a place."""
    counts: Counter = Counter()
    for sequence, conditions in Participant.objects.filter(study=study, is_preview=False).values_list(
            "stimulus_sequence", "trial_conditions"):
        counts.update(zip(sequence, conditions, strict=True))
    return counts


@pytest.mark.django_db
def test_between_every_stimulus_is_read_equally_often_in_every_condition_and_a_leavers_list_reopens():
    study = make_study("cb3", n_stimuli=6, target=3, trials=2)
    Condition.objects.filter(study=study, code="posthoc").delete()  # three conditions
    people = [Walker(Client(), study) for _ in range(9)]
    for walker in people:
        walker.arrive()
    counts = shown_per_condition(study)
    assert set(counts.values()) == {1} and len(counts) == 6 * 3  # exact: 3 lists of 2 in each condition
    assert "This study is full" in Walker(Client(), study).arrive().content.decode()

    leaver = people[4].participant
    Participant.objects.filter(pk=leaver.pk).update(status=Participant.Status.RETURNED)
    replacement = Walker(Client(), study)
    replacement.arrive()
    taken = replacement.participant
    assert (taken.condition_id, taken.stimulus_list) == (leaver.condition_id, leaver.stimulus_list)
    assert sorted(taken.stimulus_sequence) == sorted(leaver.stimulus_sequence)


@pytest.mark.django_db
def test_within_every_participant_reads_every_condition_in_a_counterbalanced_order():
    study = make_study("cb4", n_stimuli=8, target=8, trials=4)
    Study.objects.filter(pk=study.pk).update(design=Study.Design.WITHIN)
    study.refresh_from_db()
    people = [Walker(Client(), study) for _ in range(8)]
    for walker in people:
        walker.arrive()
    assert "This study is full" in Walker(Client(), study).arrive().content.decode()
    codes = list(study.conditions.values_list("code", flat=True))
    orders = Counter()
    for walker in people:
        participant = walker.participant
        assert participant.condition is None and sorted(participant.trial_conditions) == sorted(codes)
        orders[tuple(participant.trial_conditions)] += 1
    assert len(orders) == 4 and set(orders.values()) == {2}  # the Latin square's 4 rows, twice each
    counts = shown_per_condition(study)
    assert set(counts.values()) == {1} and len(counts) == 8 * 4  # each stimulus once in each condition
    # the trial page shows the text of that trial's condition
    walker = people[0]
    walker.post("consent", {"consent": "yes"})
    html = walker.post("instructions", {}).content.decode()
    first = walker.participant.trial_conditions[0]
    stimulus = Stimulus.objects.get(pk=walker.participant.stimulus_sequence[0])
    assert StimulusTrace.objects.get(stimulus=stimulus, condition=first).text in html


@pytest.mark.django_db
def test_a_within_design_that_cannot_balance_is_not_ready():
    study = make_study("cb5", n_stimuli=8, target=8, trials=5, status=Study.Status.DRAFT)
    Study.objects.filter(pk=study.pk).update(design=Study.Design.WITHIN)
    study.refresh_from_db()
    assert any("must be a multiple of the 4 conditions" in p for p in readiness_problems(study))
