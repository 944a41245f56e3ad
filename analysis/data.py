"""Gathers a study's data from the database into plain Python structures for analysis.report.

Only queries live here: a handful of flat ``values_list`` reads, no per-participant queries.
"""

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from studyapp.models import ConditionCode, Construct, Item, PageVisit, Participant, Response, Study
from studyapp.monitoring import status_counts
from traces.models import GeneratedTrace, Job

_S = Participant.Status
TRIAL_PREFIX = "trial-"


@dataclass
class ItemInfo:
    code: str
    construct: str
    scope: str
    text: str
    anchors: list[str]


@dataclass
class ParticipantData:
    pk: int
    condition: str
    status: str
    attention_passed: bool | None
    # (stimulus id or None for end items, item code) -> value
    answers: dict[tuple[int | None, str], int] = field(default_factory=dict)
    trial_seconds: list[float] = field(default_factory=list)


@dataclass
class StudyData:
    slug: str
    title: str
    target_per_condition: int
    conditions: list[tuple[str, str]]  # (code, label), in the ConditionCode order
    items: list[ItemInfo]
    participants: list[ParticipantData]  # finished (completed or screened out), real
    attrition: dict[str, dict[str, int]]  # condition -> counts
    evaluations: list[dict]


def gather(study: Study, now=None) -> StudyData:
    now = now or timezone.now()
    order = {code: i for i, code in enumerate(ConditionCode.values)}
    conditions = sorted(
        ((c.code, c.get_code_display()) for c in study.conditions.all()), key=lambda c: order.get(c[0], 99)
    )
    items = [
        ItemInfo(i.code, i.construct, i.scope, i.text, list(i.anchors))
        for i in Item.objects.filter(study=study).exclude(construct=Construct.ATTENTION_CHECK)
    ]
    item_codes = {i.code for i in items}
    finished = Participant.objects.real().filter(study=study, status__in=[_S.COMPLETED, _S.SCREENED_OUT])
    people = {
        pk: ParticipantData(pk, code, status, passed)
        for pk, code, status, passed in finished.values_list(
            "pk", "condition__code", "status", "attention_passed"
        ).order_by("pk")
    }
    rows = Response.objects.filter(participant__in=finished).values_list(
        "participant_id", "stimulus_id", "item__code", "value"
    )
    for pk, stimulus, code, value in rows.iterator(chunk_size=20000):
        if code in item_codes:
            people[pk].answers[(stimulus, code)] = value
    visits = PageVisit.objects.filter(
        participant__in=finished,
        page__startswith=TRIAL_PREFIX,
        first_shown_at__isnull=False,
        submitted_at__isnull=False,
    ).values_list("participant_id", "first_shown_at", "submitted_at")
    for pk, shown, submitted in visits.iterator(chunk_size=20000):
        people[pk].trial_seconds.append((submitted - shown).total_seconds())
    return StudyData(
        slug=study.slug,
        title=study.title,
        target_per_condition=study.target_per_condition,
        conditions=conditions,
        items=items,
        participants=list(people.values()),
        attrition=attrition(study, now),
        evaluations=evaluations(),
    )


def attrition(study: Study, now) -> dict[str, dict[str, int]]:
    """Per condition: assigned, active, completed, abandoned, screened out, no consent (as the monitor)."""
    return status_counts(study, now)


def evaluations() -> list[dict]:
    """Succeeded evaluation jobs' graded traces, counted per (checkpoint, setting)."""
    jobs = Job.objects.filter(kind=Job.Kind.EVALUATE, status=Job.Status.SUCCEEDED)
    tc = Q(classification_correct=True, retrieval_correct=True)
    rows = (
        GeneratedTrace.objects.filter(job__in=jobs)
        .values("job__checkpoint__name", "job__setting")
        .annotate(
            n=Count("pk"),
            answer=Count("pk", filter=Q(answer_correct=True)),
            classification=Count("pk", filter=Q(classification_correct=True)),
            retrieval=Count("pk", filter=Q(retrieval_correct=True)),
            tc_ac=Count("pk", filter=tc & Q(answer_correct=True)),
            tc_aw=Count("pk", filter=tc & Q(answer_correct=False)),
            tw_ac=Count("pk", filter=~tc & Q(answer_correct=True)),
            tw_aw=Count("pk", filter=~tc & Q(answer_correct=False)),
            jobs=Count("job", distinct=True),
        )
        .order_by("job__checkpoint__name", "job__setting")
    )
    return [
        {
            "checkpoint": r["job__checkpoint__name"],
            "setting": r["job__setting"],
            "jobs": r["jobs"],
            "n": r["n"],
            "answer": r["answer"],
            "classification": r["classification"],
            "retrieval": r["retrieval"],
            "tc_ac": r["tc_ac"],
            "tc_aw": r["tc_aw"],
            "tw_ac": r["tw_ac"],
            "tw_aw": r["tw_aw"],
        }
        for r in rows
    ]
