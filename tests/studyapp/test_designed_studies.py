"""Issue 19's acceptance: a 3-condition between-participants study and a 4-condition within-participants
study, each made from its study file, opened in the admin and walked by pilot bots of which some leave
part-way, end with every problem read exactly equally often in every condition by those who completed,
and (within) the conditions' order over the trials counterbalanced."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from studyapp.models import Participant, Pilot, Study

pytestmark = pytest.mark.django_db
SPECS = Path(__file__).parent / "data" / "specs"


def opened_from_its_file(name: str, admin_client) -> Study:
    """Import the study file, then open the study in the admin as a researcher does."""
    call_command("study_spec", "import", str(SPECS / f"{name}.json"))
    study = Study.objects.get(slug=name)
    page = admin_client.post(reverse("admin:studyapp_study_changelist"),
                             {"action": "open_study", "_selected_action": [study.pk]}, follow=True)
    messages = [str(m) for m in page.context["messages"]]
    assert f"{name} is live." in messages, messages
    study.refresh_from_db()
    return study


def completed_and_left(study: Study) -> tuple[list[Participant], int]:
    (run,) = Pilot.objects.filter(study=study)
    bots = Participant.objects.filter(study=study, pilot=run)
    done = list(bots.filter(status=Participant.Status.COMPLETED))
    return done, bots.filter(status=Participant.Status.RETURNED).count()


def read_in(people: list[Participant]) -> Counter:
    """(stimulus id, condition code) -> how often it was read on a trial."""
    counts: Counter = Counter()
    for person in people:
        counts.update(zip(person.stimulus_sequence, person.trial_conditions, strict=True))
    return counts


def test_a_three_condition_between_study_from_its_file_ends_exactly_balanced(admin_client, admin_user):
    study = opened_from_its_file("three-between", admin_client)
    codes = list(study.conditions.values_list("code", flat=True))
    assert len(codes) == 3 and study.design == Study.Design.BETWEEN
    call_command("pilot", study.slug, participants=60, leave=0.4, seed=5)

    done, left = completed_and_left(study)
    assert left >= 2, "some bots should have left part-way and given their places back"
    assert Counter(p.condition.code for p in done) == dict.fromkeys(codes, study.target_per_condition)
    counts = read_in(done)
    stimuli = study.stimuli.filter(is_practice=False).count()
    assert len(counts) == stimuli * len(codes)  # every problem read in every condition
    assert set(counts.values()) == {study.target_per_condition * study.trials_per_participant // stimuli}


def test_a_four_condition_within_study_from_its_file_ends_exactly_balanced_and_counterbalanced(
    admin_client, admin_user
):
    study = opened_from_its_file("four-within", admin_client)
    codes = list(study.conditions.values_list("code", flat=True))
    assert len(codes) == 4 and study.design == Study.Design.WITHIN
    call_command("pilot", study.slug, participants=60, leave=0.4, seed=5)

    done, left = completed_and_left(study)
    assert left >= 2 and len(done) == study.target_per_condition
    per_trial = study.trials_per_participant // len(codes)
    for person in done:  # each participant read every condition equally often
        assert Counter(person.trial_conditions) == dict.fromkeys(codes, per_trial)
    counts = read_in(done)
    assert len(counts) == study.stimuli.filter(is_practice=False).count() * len(codes)
    assert set(counts.values()) == {1}  # every problem once in every condition
    positions = Counter((t, c) for p in done for t, c in enumerate(p.trial_conditions))
    assert set(positions.values()) == {len(done) // len(codes)}  # each condition in each position equally
    follows = Counter(pair for p in done for pair in zip(p.trial_conditions, p.trial_conditions[1:],
                                                           strict=False))
    assert len(follows) == len(codes) * (len(codes) - 1) and len(set(follows.values())) == 1
    practice = set(study.stimuli.filter(is_practice=True).values_list("pk", flat=True))
    assert practice and not practice & {s for p in done for s in p.stimulus_sequence}
