"""Gathers a study's data from the database into plain Python structures for analysis.report.

Only queries live here: a handful of flat ``values_list`` reads, no per-participant queries.
"""

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.html import strip_tags

from studyapp import paradata
from studyapp.models import (
    Construct,
    Item,
    PageVisit,
    Participant,
    Response,
    Stimulus,
    StimulusTrace,
    Study,
    TrialJudgement,
    TrialTask,
)
from studyapp.monitoring import status_counts, study_counts
from studyapp.paradata import SUMMED
from studyapp.rendering import render_trace
from traces.evaluations import graded_records
from traces.grading.table import DEFINITIONS, model_rows
from traces.models import GRADING_VERSION, Evaluation, Job, ModelOutput

from .model_table import decorate
from .registration import deviations, in_force, timing
from .report import Options, PlanData
from .report.records import Judgement, StepMark
from .report.scores import COMPOSITE, WITHIN_GROUP, outcome_plan

_S = Participant.Status
TRIAL_PREFIX = "trial-"


@dataclass
class ItemInfo:
    code: str
    construct: str
    scope: str
    text: str
    anchors: list[str]
    scale_points: int = 5
    reverse_keyed: bool = False  # scored as scale_points + 1 - value; stored as chosen


@dataclass
class ParticipantData:
    pk: int
    condition: str  # between participants their condition; within, WITHIN_GROUP (they read every one)
    status: str
    attention_passed: bool | None
    # (stimulus id or None for end items, item code) -> value
    answers: dict[tuple[int | None, str], int] = field(default_factory=dict)
    trial_seconds: list[float] = field(default_factory=list)
    # per trial page: (server seconds on the page, browser ms the trace was on screen or None, trace words,
    # the trial's condition)
    readings: list[tuple[float, int | None, int, str]] = field(default_factory=list)
    device_class: str = ""
    # within participants: stimulus id -> the condition of the trial that showed it
    trial_conditions: dict[int, str] = field(default_factory=dict)
    # paradata over their measured pages (studyapp.paradata.totals); None where no page was measured
    away_ms: int | None = None
    pastes: int | None = None
    copies: int | None = None
    automated: bool | None = None

    def condition_of(self, stimulus: int | None) -> str:
        """The condition an answer about ``stimulus`` was given in: its trial's (the participant's own
        between participants)."""
        return self.trial_conditions.get(stimulus, self.condition)


@dataclass
class StudyData:
    slug: str
    title: str
    target_per_condition: int
    conditions: list[tuple[str, str]]  # (code, label), in the study's order
    items: list[ItemInfo]
    participants: list[ParticipantData]  # finished (completed or screened out), real
    attrition: dict[str, dict[str, int]]  # condition -> counts
    model_tables: list[dict]  # Table 1 of each dataset with evaluations (model_table_data)
    plan: PlanData = field(default_factory=PlanData)
    stimuli: dict[int, str] = field(default_factory=dict)  # id -> code
    # (stimulus id, condition) -> the model that wrote the text read (from its provenance)
    trace_models: dict[tuple[int, str], str] = field(default_factory=dict)
    design: str = Study.Design.BETWEEN  # "between" or "within"
    task: str = TrialTask.RATING  # what participants did on a trial
    # the trials' judgements of finished participants (verification and simulation; practice left out)
    judgements: list[Judgement] = field(default_factory=list)
    step_rating: bool = False  # participants marked each trace's first wrong step
    # the finished participants' step marks on their trials (step rating; practice left out)
    step_marks: list[StepMark] = field(default_factory=list)


def gather(study: Study, now=None) -> StudyData:
    now = now or timezone.now()
    items = study_items(study)
    participants = finished_participants(study, items, trace_words(study))
    return StudyData(
        design=study.design,
        task=study.trial_task,
        judgements=trial_judgements(study),
        step_rating=study.step_rating,
        step_marks=step_marks(study, participants) if study.step_rating else [],
        slug=study.slug,
        title=study.title,
        target_per_condition=study.target_per_condition,
        conditions=study_conditions(study),
        items=items,
        participants=participants,
        attrition=attrition(study, now),
        model_tables=[model_table_data(dataset) for dataset in model_datasets()],
        plan=plan_data(study, items),
        stimuli=dict(Stimulus.objects.filter(study=study).values_list("pk", "code")),
        trace_models=trace_models(study),
    )


def study_conditions(study: Study) -> list[tuple[str, str]]:
    """(code, label) of the study's conditions, in the study's order."""
    return list(study.conditions.values_list("code", "label"))


def study_items(study: Study) -> list[ItemInfo]:
    """The items analysed: all but the attention checks."""
    return [
        ItemInfo(i.code, i.construct, i.scope, i.text, list(i.anchors), i.scale_points, i.reverse_keyed)
        for i in Item.objects.filter(study=study).exclude(construct=Construct.ATTENTION_CHECK)
    ]


def finished_real(study: Study) -> QuerySet:
    """The study's real participants who finished: completed, or screened out by the attention checks."""
    return Participant.objects.real().filter(study=study, status__in=[_S.COMPLETED, _S.SCREENED_OUT])


def finished_participants(
    study: Study, items: list[ItemInfo], words: dict[tuple[int, str], int] | None = None
) -> list[ParticipantData]:
    """The real participants who finished (completed or screened out), with their answers and trial
    page times: what the exclusion rules read. With ``words`` (trace_words), also each trial's
    reading for the report's reading times; the monitor, which only applies the exclusions, leaves
    them out."""
    item_codes = {i.code for i in items}
    finished = finished_real(study)
    within = study.design == Study.Design.WITHIN
    people = {
        pk: ParticipantData(
            pk, WITHIN_GROUP if within else code, status, passed, device_class=device,
            trial_conditions=dict(zip(sequence, conditions, strict=False)) if within else {},
        )
        for pk, code, status, passed, device, sequence, conditions in finished.values_list(
            "pk", "condition__code", "status", "attention_passed", "device_class", "stimulus_sequence",
            "trial_conditions",
        ).order_by("pk")
    }
    # the practice problem is never analysed
    rows = Response.objects.filter(participant__in=finished).exclude(stimulus__is_practice=True).values_list(
        "participant_id", "stimulus_id", "item__code", "value"
    )
    for pk, stimulus, code, value in rows.iterator(chunk_size=20000):
        if code in item_codes:
            people[pk].answers[(stimulus, code)] = value
    away_ms, pastes, copies = (SUMMED.index(name) for name in ("away_ms", "paste_count", "copy_count"))
    measured = paradata.totals(PageVisit.objects.filter(participant__in=finished))
    for pk, (*summed, automated) in measured.items():
        person = people[pk]
        person.away_ms, person.pastes, person.copies = summed[away_ms], summed[pastes], summed[copies]
        person.automated = bool(automated)
    visits = PageVisit.objects.filter(
        participant__in=finished,
        page__startswith=TRIAL_PREFIX,
        first_shown_at__isnull=False,
        submitted_at__isnull=False,
    ).values_list("participant_id", "stimulus_id", "first_shown_at", "submitted_at", "trace_visible_ms")
    for pk, stimulus, shown, submitted, visible in visits.iterator(chunk_size=20000):
        seconds = (submitted - shown).total_seconds()
        person = people[pk]
        person.trial_seconds.append(seconds)
        if words is not None:
            condition = person.condition_of(stimulus)
            person.readings.append((seconds, visible, words.get((stimulus, condition), 0), condition))
    return list(people.values())


def plan_data(study: Study, items: list[ItemInfo] | None = None) -> PlanData:
    """The study's analysis plan as plain data; the defaults where it has none, whose primary outcomes
    are the study's own constructs (those of its per-trial items, the composite apart)."""
    constructs = tuple(k for k in outcome_plan(items or study_items(study)).keys if k != COMPOSITE)
    plan = in_force(study)
    if plan is None:
        return PlanData(primary_outcomes=constructs, task=study.trial_task)
    return PlanData(
        task=study.trial_task,
        primary_outcomes=tuple(plan.primary_outcomes) or constructs,
        primary_test=plan.primary_test,
        pairwise=plan.pairwise,
        options=Options(
            attention=plan.exclude_failed_attention, speeders=plan.exclude_speeders,
            speeder_seconds=plan.speeder_seconds, straightlining=plan.exclude_straightliners,
            straightline_scope=plan.straightline_scope, left_page=plan.exclude_left_page,
            left_page_seconds=plan.left_page_seconds, pasted=plan.exclude_pasted, copied=plan.exclude_copied,
            automated=plan.exclude_automated,
        ),
        equivalence_margin=plan.equivalence_margin,
        alpha=plan.alpha,
        notes=plan.notes,
        registered_at=plan.registered_at.isoformat() if plan.registered_at else None,
        registration=timing(plan),
        registered_after_participants=plan.registered_after_participants,
        registered_after_answers=plan.registered_after_answers,
        first_participant_at=plan.first_participant_at.isoformat() if plan.first_participant_at else None,
        sha256=plan.registered_sha256,
        version=plan.version,
        deviation=plan.deviation,
        deviations=tuple(deviations(study, plan)),
        exists=True,
    )


def trial_judgements(study: Study) -> list[Judgement]:
    """The judgements finished real participants made on their trials (the practice problem's left
    out), each with its stimulus's ground truth: whether the model's answer was right (for verification
    the truth it was scored against) and whether its decomposition trace's steps were, under the
    study's definition."""
    finished = finished_real(study)
    stimuli = {s.pk: s for s in Stimulus.objects.filter(study=study, is_practice=False)}
    definition = study.truth_definition
    rows = TrialJudgement.objects.filter(participant__in=finished, stimulus__in=list(stimuli)).values_list(
        "participant_id", "stimulus_id", "condition", "task", "choice", "correct", "truth", "confidence",
        "server_ms", "choice_ms", "options_shown",
    ).order_by("participant_id", "submitted_at")
    out = []
    for pk, stimulus, condition, task, choice, correct, truth, confidence, server, browser, shown in rows:
        verification = task == TrialTask.VERIFICATION
        out.append(Judgement(
            participant=pk, stimulus=stimulus, condition=condition, task=task, correct=correct,
            confidence=confidence, options=2 if verification else len(shown) + 1,  # + "none of these"
            server_ms=server, choice_ms=browser,
            said_yes=choice == "yes" if verification else None,
            answer_correct=(truth == "yes") if verification else stimuli[stimulus].answer_correct(definition),
            trace_correct=stimuli[stimulus].trace_correct(definition),
        ))
    return out


def step_marks(study: Study, participants: list[ParticipantData]) -> list[StepMark]:
    """The step marks the finished participants (``finished_participants``) made on their trial pages,
    each in its trial's condition, with the graded first wrong step it was scored against."""
    people = {person.pk: person for person in participants}
    visits = PageVisit.objects.filter(
        participant__in=finished_real(study), page__startswith=TRIAL_PREFIX, first_wrong_step__isnull=False,
    ).values_list(
        "participant_id", "stimulus_id", "steps_shown", "first_wrong_step", "first_wrong_step_truth",
        "first_wrong_step_correct",
    ).order_by("participant_id", "page")
    return [
        StepMark(participant=pk, stimulus=stimulus, condition=people[pk].condition_of(stimulus),
                 steps_shown=shown, mark=mark, truth=truth, correct=correct)
        for pk, stimulus, shown, mark, truth, correct in visits.iterator(chunk_size=20000)
    ]


def trace_words(study: Study) -> dict[tuple[int, str], int]:
    """(stimulus id, condition) -> the number of words of the trace as participants read it."""
    return {
        (stimulus, condition): len(strip_tags(render_trace(text)).split())
        for stimulus, condition, text in StimulusTrace.objects.filter(stimulus__study=study).values_list(
            "stimulus_id", "condition", "text"
        )
    }


def trace_models(study: Study) -> dict[tuple[int, str], str]:
    """(stimulus id, condition) -> the model that wrote the text (or the rule that built it), as its
    provenance records; texts entered by hand have none."""
    out = {}
    for stimulus, condition, facts in StimulusTrace.objects.filter(stimulus__study=study).values_list(
        "stimulus_id", "condition", "provenance"
    ):
        facts = facts or {}
        out[(stimulus, condition)] = facts.get("model") or facts.get("source") or "not recorded"
    return out


def attrition(study: Study, now) -> dict[str, dict[str, int]]:
    """Per condition: assigned, active, completed, abandoned, screened out, no consent (as the monitor);
    within participants, where everyone reads every condition, the study's counts as one group."""
    if study.design == Study.Design.WITHIN:
        return {WITHIN_GROUP: study_counts(study, now)}
    return status_counts(study, now)


def model_datasets() -> list[str]:
    """The datasets that have evaluations, in name order."""
    return list(Evaluation.objects.order_by("dataset").values_list("dataset", flat=True).distinct())


def model_table_data(dataset: str) -> dict:
    """Table 1 of one dataset from every evaluation's graded outputs, with its provenance.

    Where several evaluations of a model and setting graded the same problem, the newest counts.
    Outputs of a job that has not succeeded (still running, failed, cancelled) are left out, and so
    are, counted, outputs graded under an older definition (``regrade_outputs``).
    """
    finished = Q(evaluation__job__isnull=True) | Q(evaluation__job__status=Job.Status.SUCCEEDED)
    outputs = ModelOutput.objects.filter(finished, evaluation__dataset=dataset)
    current = outputs.filter(evaluation__grading_version=GRADING_VERSION)
    evaluations = (
        Evaluation.objects.filter(dataset=dataset)
        .annotate(n=Count("outputs"))
        .order_by("model_name", "setting", "created_at")
        .values("pk", "model_name", "setting", "subset", "source", "file_name", "sha256", "job_id",
                "job__status", "imported_by__username", "created_at", "grading_version", "n")
    )
    return {
        "dataset": dataset,
        "definitions": DEFINITIONS,
        "rows": decorate(model_rows(graded_records(current, latest_per_problem=True))),
        "evaluations": [
            {**e, "imported_by": e.pop("imported_by__username"), "job_status": e.pop("job__status"),
             "created_at": e["created_at"].isoformat()}
            for e in evaluations
        ],
        "outdated": outputs.exclude(evaluation__grading_version=GRADING_VERSION).count(),
    }
