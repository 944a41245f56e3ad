"""The study's data: studies, their conditions, stimuli and questionnaire, and what participants did.

Everything a participant submitted is protected from deletion (``on_delete=PROTECT``), and the
database itself refuses a second answer to the same question or a second run by the same person.
"""

import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

LIKERT_MIN = 1
LIKERT_MAX = 5
LIKERT_POINTS = LIKERT_MAX - LIKERT_MIN + 1


class ConditionCode(models.TextChoices):
    """The paper's four trace types; the codes are stable and appear in every export."""

    DECOMPOSITION = "decomposition", "Rule-based decomposition trace"
    R1 = "r1", "DeepSeek-R1 trace"
    R1_SUMMARY = "r1_summary", "Summary of the R1 trace"
    POSTHOC = "posthoc", "Post-hoc explanation"


class Construct(models.TextChoices):
    PREDICTABILITY = "predictability", "Predictability"
    UNDERSTANDABILITY = "understandability", "Understandability"
    FAITHFULNESS = "faithfulness", "Faithfulness"
    COGNITIVE_LOAD = "cognitive_load", "Cognitive load"
    ATTENTION_CHECK = "attention_check", "Attention check"


DEFAULT_CONSENT_TEXT = (
    "You are invited to take part in a research study on how people read the reasoning of AI "
    "language models. You will read a few short question-answering problems, each with an AI "
    "model's answer and a text describing its reasoning, and rate each text on a few statements. "
    "It takes about 20 minutes.\n\n"
    "Taking part is voluntary. You may stop at any time by closing this page and returning the "
    "study on Prolific. We store your Prolific ID and your answers; nothing else about you. The "
    "data are used for research and published only in anonymised, aggregate form.\n\n"
    "If you have questions, contact the researchers through Prolific."
)


class Study(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    target_per_condition = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1)],
        help_text="Participants to complete the study in each condition.",
    )
    time_limit_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1)],
        help_text="After this long an unfinished participant counts as abandoned and the slot re-opens.",
    )
    trials_per_participant = models.PositiveIntegerField(default=5, validators=[MinValueValidator(1)])
    completion_code = models.CharField(max_length=40, help_text="Prolific code for a completed study.")
    no_consent_code = models.CharField(max_length=40, help_text="Prolific code for declined consent.")
    failed_attention_code = models.CharField(
        max_length=40, help_text="Prolific code for a failed attention check."
    )
    consent_text = models.TextField(default=DEFAULT_CONSENT_TEXT)
    created_at = models.DateTimeField(auto_now_add=True)
    content_version = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="Bumped whenever the study's items, stimuli or traces change (see studyapp.content).",
    )

    class Meta:
        verbose_name_plural = "studies"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.title} ({self.slug})"

    def save(self, *args: object, **kwargs: object) -> None:
        """Never write content_version back: only content.bump_version moves it, in SQL, so an
        edit of the study made from an older copy cannot roll it back to a version some process
        has cached with older content."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "content_version"
            ]
        super().save(*args, **kwargs)

    @property
    def time_limit(self) -> timedelta:
        return timedelta(minutes=self.time_limit_minutes)

    def abandon_cutoff(self, now: datetime) -> datetime:
        """Active participants who started before this moment have run out of time."""
        return now - self.time_limit


class Condition(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    code = models.CharField(max_length=20, choices=ConditionCode.choices)
    trace_heading = models.CharField(
        max_length=100, default="The model's reasoning",
        help_text="Heading above the trace on the trial page.",
    )

    class Meta:
        ordering = ["study", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="condition_unique_per_study"),
        ]

    def __str__(self) -> str:
        return self.code


class Stimulus(models.Model):
    """A question-answering problem with the model's answer, shown with one trace per condition."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="stimuli")
    code = models.CharField(max_length=100, help_text="Stable identifier, e.g. cotempqa-equal-291.")
    source = models.CharField(max_length=300, blank=True, help_text="Where the problem comes from.")
    context_facts = models.JSONField(help_text="List of context sentences.")
    question = models.TextField()
    gold_answers = models.JSONField(help_text="List of accepted answers.")
    model_answer = models.TextField(help_text="The model's final answer, shown to participants.")

    class Meta:
        verbose_name_plural = "stimuli"
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="stimulus_unique_code_per_study"),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        for field in ("context_facts", "gold_answers"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise ValidationError({field: "Must be a JSON list of strings."})


class StimulusTrace(models.Model):
    """The text a participant in one condition reads for one stimulus."""

    stimulus = models.ForeignKey(Stimulus, on_delete=models.CASCADE, related_name="traces")
    condition = models.CharField(max_length=20, choices=ConditionCode.choices)
    text = models.TextField()

    class Meta:
        ordering = ["stimulus", "condition"]
        constraints = [
            models.UniqueConstraint(
                fields=["stimulus", "condition"], name="trace_unique_per_stimulus_condition"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stimulus.code} / {self.condition}"


class Item(models.Model):
    """A 5-point questionnaire item; its code starts with its construct (``faithfulness_1``)."""

    class Scope(models.TextChoices):
        TRIAL = "trial", "Under every trace"
        END = "end", "End of study"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="items")
    code = models.SlugField(max_length=60)
    construct = models.CharField(max_length=20, choices=Construct.choices)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    text = models.TextField()
    anchors = models.JSONField(help_text="Five labels, one for each scale point from 1 to 5.")
    expected_value = models.PositiveSmallIntegerField(
        null=True, blank=True,
        validators=[MinValueValidator(LIKERT_MIN), MaxValueValidator(LIKERT_MAX)],
        help_text="Attention checks only: the instructed answer.",
    )
    source = models.CharField(max_length=300, blank=True, help_text="Instrument the item is adapted from.")
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in admin and codebook.")

    class Meta:
        ordering = ["study", "scope", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="item_unique_code_per_study"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_attention_check(self) -> bool:
        return self.construct == Construct.ATTENTION_CHECK

    def clean(self) -> None:
        errors = {}
        if self.code and self.construct and not self.code.startswith(f"{self.construct}_"):
            errors["code"] = f"The code must start with its construct: {self.construct}_…"
        if (
            not isinstance(self.anchors, list)
            or len(self.anchors) != LIKERT_POINTS
            or not all(isinstance(a, str) and a.strip() for a in self.anchors)
        ):
            errors["anchors"] = f"Give exactly {LIKERT_POINTS} non-empty labels, one per scale point."
        if self.is_attention_check and self.expected_value is None:
            errors["expected_value"] = "An attention check needs the instructed answer."
        if self.is_attention_check and self.scope != self.Scope.TRIAL:
            errors["scope"] = "The attention check is shown under a trace."
        if errors:
            raise ValidationError(errors)


class ParticipantQuerySet(models.QuerySet):
    def real(self) -> "ParticipantQuerySet":
        """Participants from Prolific, not researchers previewing the study."""
        return self.filter(is_preview=False)

    def out_of_time(self, study: Study, now: datetime) -> "ParticipantQuerySet":
        """Active participants who started before the time limit: their slots have re-opened."""
        return self.real().filter(
            study=study, status=Participant.Status.ACTIVE, started_at__lt=study.abandon_cutoff(now)
        )

    def holding_a_slot(self, study: Study, now: datetime) -> "ParticipantQuerySet":
        """Those counted toward a condition's target: completed, or active within the time limit."""
        return self.real().filter(study=study).filter(
            Q(status=Participant.Status.COMPLETED)
            | Q(status=Participant.Status.ACTIVE, started_at__gte=study.abandon_cutoff(now))
        )


class Participant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        RETURNED = "returned", "Returned"
        TIMED_OUT = "timed_out", "Timed out"
        NO_CONSENT = "no_consent", "No consent"
        SCREENED_OUT = "screened_out", "Screened out (failed attention check)"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    condition = models.ForeignKey(Condition, on_delete=models.PROTECT, related_name="participants")
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    prolific_pid = models.CharField("PROLIFIC_PID", max_length=24)
    prolific_study_id = models.CharField("STUDY_ID", max_length=64, blank=True)
    prolific_session_id = models.CharField("SESSION_ID", max_length=64, blank=True)
    is_preview = models.BooleanField(default=False, help_text="A researcher's preview; never counted.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    stimulus_sequence = models.JSONField(help_text="Stimulus ids, in the order shown.")
    item_order = models.JSONField(help_text="Per-trial item ids, in the order shown under each trace.")
    end_item_order = models.JSONField(help_text="End-of-study item ids, in the order shown.")
    attention_trial = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Trial number (from 1) that carries the attention check."
    )
    attention_position = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Position (from 1) of the attention check among that trial's items."
    )
    attention_passed = models.BooleanField(null=True, blank=True)
    pages_done = models.PositiveSmallIntegerField(default=0, help_text="Pages submitted so far.")
    comment = models.TextField(blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["study", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["study", "prolific_pid"], name="participant_unique_pid_per_study"
            ),
        ]
        indexes = [models.Index(fields=["study", "status", "started_at"])]

    def __str__(self) -> str:
        return self.prolific_pid

    def is_out_of_time(self, now: datetime) -> bool:
        """The same rule as ParticipantQuerySet.out_of_time, for one participant in hand."""
        return (
            not self.is_preview
            and self.status == self.Status.ACTIVE
            and self.started_at < self.study.abandon_cutoff(now)
        )


class PageVisit(models.Model):
    """Server-side times of one page for one participant: first and last shown, and submitted.

    The times are empty only for a page submitted without ever being shown (not by a browser).
    """

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="visits")
    page = models.CharField(max_length=20)
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, null=True, blank=True)
    first_shown_at = models.DateTimeField(null=True, blank=True, help_text="Empty if never shown.")
    last_shown_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["participant", "first_shown_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "page"], name="visit_unique_page"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.page}"


class Response(models.Model):
    """One answer to one item; for per-trial items also the stimulus it was about."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="responses")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, null=True, blank=True)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="responses")
    value = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(LIKERT_MIN), MaxValueValidator(LIKERT_MAX)]
    )
    position = models.PositiveSmallIntegerField(help_text="Position (from 1) among the page's items.")
    time_on_page_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Server time from first showing the page to this answer's submission.",
    )
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["participant", "submitted_at", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "stimulus", "item"],
                condition=Q(stimulus__isnull=False),
                name="response_unique_per_trial_item",
            ),
            models.UniqueConstraint(
                fields=["participant", "item"],
                condition=Q(stimulus__isnull=True),
                name="response_unique_per_end_item",
            ),
            models.CheckConstraint(
                condition=Q(value__gte=LIKERT_MIN, value__lte=LIKERT_MAX),
                name="response_value_on_scale",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.item} = {self.value}"
