"""Studies a researcher designs: conditions of their own, between or within participants, walked through
the entry page by participants of whom some complete and some leave part-way."""

from collections import Counter
from dataclasses import dataclass

from django.test import Client

from studyapp.models import Condition, Item, Participant, Stimulus, StimulusTrace, Study, TraceKind
from studyapp.study_setup import add_defaults
from tests.conftest import Walker

#: Three conditions of a follow-up study: (code, label, heading, kind of text).
THREE = [
    ("plain", "The answer alone", "The model's note", TraceKind.IMPORTED),
    ("steps", "Step-by-step reasoning", "The model's reasoning", TraceKind.REASONING),
    ("digest", "A newer model's summary", "A summary of the reasoning", TraceKind.SUMMARY),
]
#: Four conditions for a within-participants study.
FOUR = [*THREE, ("posthoc-v2", "An explanation written afterwards", "The model's explanation",
                 TraceKind.EXPLANATION)]


def designed_study(slug: str, conditions: list[tuple], *, design: str, n_stimuli: int, trials: int,
                   target: int) -> Study:
    """A live study with these conditions (in this order), every stimulus with a text in each, the
    default questionnaire and one 7-point reverse-keyed end-of-study item."""
    study = Study.objects.create(
        slug=slug, title=f"Study {slug}", design=design, target_per_condition=target,
        trials_per_participant=trials, completion_code="C-OK", no_consent_code="C-NO",
        failed_attention_code="C-ATTN",
    )
    for position, (code, label, heading, kind) in enumerate(conditions, start=1):
        Condition.objects.create(study=study, code=code, label=label, trace_heading=heading, trace_kind=kind,
                                 text_source=f"{kind} texts, file {code}.jsonl", position=position)
    add_defaults(study)
    Item.objects.create(
        study=study, code="effort_reversed", construct="effort", scope=Item.Scope.END,
        text="Reading the texts took little effort.", scale_points=7, reverse_keyed=True,
        anchors=["Strongly disagree", "Disagree", "Somewhat disagree", "Neither", "Somewhat agree", "Agree",
                 "Strongly agree"], position=99,
    )
    for n in range(n_stimuli):
        stimulus = Stimulus.objects.create(
            study=study, code=f"q{n:02d}", context_facts=[f"Fact {n}."], question=f"Question {n}?",
            gold_answers=[f"Gold {n}"], model_answer=f"Answer {n}",
        )
        for code, *_ in conditions:
            StimulusTrace.objects.create(stimulus=stimulus, condition=code, text=f"{code} text for q{n:02d}")
    Study.objects.filter(pk=study.pk).update(status=Study.Status.LIVE)
    study.refresh_from_db()
    return study


def complete(study: Study, n: int) -> list[Participant]:
    """n participants complete the study, one after the other."""
    done = []
    for _ in range(n):
        walker = Walker(Client(), study)
        walker.complete()
        done.append(walker.participant)
    return done


def leave(study: Study) -> Participant:
    """A participant who consents, reads the first trial and returns the study on Prolific."""
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    walker.post("trial-1", walker.answers_for("trial-1"))
    Participant.objects.filter(pk=walker.participant.pk).update(status=Participant.Status.RETURNED)
    return walker.participant


def part_way(study: Study) -> Walker:
    """A participant still under way: consented, one trial done."""
    walker = Walker(Client(), study)
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    walker.post("trial-1", walker.answers_for("trial-1"))
    return walker


@dataclass
class Walked:
    study: Study
    completed: list[Participant]
    left: list[Participant]
    active: Walker


def walk_with_attrition(study: Study, first: int, then: int) -> Walked:
    """``first`` complete, one leaves, one stays part-way, then ``then`` more complete."""
    completed = complete(study, first)
    left = [leave(study)]
    active = part_way(study)
    completed += complete(study, then)
    return Walked(study, completed, left, active)


def read_in_conditions(study: Study) -> Counter:
    """(stimulus code, condition code) -> how often the participants who completed read it, computed
    from the stored sequences."""
    codes = dict(study.stimuli.values_list("id", "code"))
    counts: Counter = Counter()
    people = Participant.objects.filter(study=study, status=Participant.Status.COMPLETED, is_preview=False)
    for sequence, conditions in people.values_list("stimulus_sequence", "trial_conditions"):
        assert len(sequence) == len(conditions) == study.trials_per_participant
        counts.update((codes[s], c) for s, c in zip(sequence, conditions, strict=True))
    return counts
