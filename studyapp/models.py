"""The study's data: studies, their conditions, stimuli and questionnaire, and what participants did.

Everything a participant submitted is protected from deletion (``on_delete=PROTECT``), and the
database itself refuses a second answer to the same question or a second run by the same person.
What participants read is kept too: every version of a trial's texts (TraceVersion) with the visits
that showed it, and no stimulus or trace of a study with participants can be deleted.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Count, ProtectedError, Q, QuerySet
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext_noop

LIKERT_MIN = 1
LIKERT_MAX = 7  # the longest scale an item may have; each item's own is scale_points (5 or 7)
SCALE_POINTS = (5, 7)


#: Sent when a study is about to go live; each receiver returns a list of what stops it (in words).
study_going_live = Signal()


class TraceKind(models.TextChoices):
    """Where a condition's texts come from: the kinds of trace the platform makes, or text imported as is."""

    DECOMPOSITION = "decomposition", "Rule-based decomposition trace"
    REASONING = "reasoning", "A reasoning model's trace"
    SUMMARY = "summary", "A summary of the reasoning trace"
    EXPLANATION = "explanation", "A post-hoc explanation"
    IMPORTED = "imported", "Text imported as is"
    ANSWER_ONLY = "answer_only", "No text: the model's answer alone"


class Construct(models.TextChoices):
    """The default questionnaire's constructs. An item may measure any construct (a slug); the one that
    means something to the platform is the attention check."""

    PREDICTABILITY = "predictability", "Predictability"
    UNDERSTANDABILITY = "understandability", "Understandability"
    FAITHFULNESS = "faithfulness", "Faithfulness"
    COGNITIVE_LOAD = "cognitive_load", "Cognitive load"
    ATTENTION_CHECK = "attention_check", "Attention check"


# The platform's default texts, in English; gettext_noop marks them for the catalogs, from which a study
# that keeps a default shows it in each language the platform has (studyapp.languages.shown).
DEFAULT_CONSENT_TEXT = gettext_noop(
    "You are invited to take part in a research study on how people read the reasoning of AI "
    "language models. You will read a few short question-answering problems, each with an AI "
    "model's answer and a text describing its reasoning, and rate each text on a few statements.\n\n"
    "What is recorded is listed below. The data are used for research and published only in "
    "anonymised, aggregate form."
)
DEFAULT_WITHDRAWAL_TEXT = gettext_noop(
    "Taking part is voluntary. You may stop at any time by closing this page and returning the study "
    "on Prolific, without giving a reason. To have your answers deleted later, write to the contact "
    "below with your Prolific ID."
)
DEFAULT_DEBRIEFING_TEXT = gettext_noop(
    "Thank you for taking part. The texts you read were produced in different ways: some were "
    "written step by step by a fixed rule, some were the reasoning an AI model wrote before its "
    "answer, some were summaries of that reasoning, and some were explanations written after the "
    "answer. Each participant read one kind. We study whether the kind of text changes how "
    "predictable, understandable and faithful it seems, and how hard it is to read. The model's "
    "answers were not always right."
)
DEFAULT_WITHIN_DEBRIEFING_TEXT = gettext_noop(
    "Thank you for taking part. The texts you read were produced in different ways: some were "
    "written step by step by a fixed rule, some were the reasoning an AI model wrote before its "
    "answer, some were summaries of that reasoning, and some were explanations written after the "
    "answer. You read every kind, each on different problems. We study whether the kind of text changes "
    "how predictable, understandable and faithful it seems, and how hard it is to read. The model's "
    "answers were not always right."
)
DEFAULT_TRACE_HEADING = gettext_noop("The model's reasoning")


class TrialTask(models.TextChoices):
    """What participants do on a trial. Rating is the paper's study; the other two measure behaviour
    against the graded model outputs (ground truth)."""

    RATING = "rating", "Rating: the problem, the model's answer and the text, then the statements"
    VERIFICATION = "verification", "Verification: judge whether the model's answer is correct, then rate"
    SIMULATION = "simulation", "Simulation: predict the model's answer from the masked text, then see it"


class TruthDefinition(models.TextChoices):
    """Which grade of the model's answer is the ground truth (traces.grading: strict or published)."""

    STRICT = "strict", "Strict: the answer exactly right"
    PUBLISHED = "published", "Published: graded as the paper graded it"


DEFAULT_CONFIDENCE_ANCHORS = [
    gettext_noop("Not at all confident"), gettext_noop("Slightly confident"),
    gettext_noop("Moderately confident"), gettext_noop("Very confident"),
    gettext_noop("Completely confident"),
]
CONFIDENCE_POINTS = 5


def default_confidence_anchors() -> list[str]:
    return list(DEFAULT_CONFIDENCE_ANCHORS)


class AnswerPosition(models.TextChoices):
    AFTER_TRACE = "after", "After the trace"
    BEFORE_TRACE = "before", "Before the trace, with the question"


def platform_languages() -> dict[str, str]:
    """The languages the platform has catalogs for (settings.LANGUAGES): code -> name."""
    return dict(settings.LANGUAGES)


def default_languages() -> list[str]:
    """A new study (and every study made before languages) is offered in the platform's language alone."""
    return [settings.LANGUAGE_CODE]


class TranslatedModel(models.Model):
    """A row with texts participants read (its TRANSLATED_FIELDS), written in its study's own language (the
    first the study offers), with their translations into the study's other languages in ``translations``:
    language code -> {field: text}. A list (anchors, facts) is translated as a list of as many entries.
    Which one a participant reads: studyapp.languages."""

    TRANSLATED_FIELDS: tuple[str, ...] = ()

    translations = models.JSONField(
        default=dict, blank=True,
        help_text="Its texts in the other languages the study offers: {language code: {field: text}}.",
    )

    class Meta:
        abstract = True

    def texts_study(self) -> "Study | None":
        """The study whose languages these texts are in (None while it has none)."""
        return getattr(self, "study", None)

    def translation_problems(self) -> list[str]:
        """What is wrong with ``translations``: a language the platform lacks or the study's own, a field
        that is not translated, a text of the wrong kind or length."""
        given = self.translations
        if not isinstance(given, dict):
            return ["Must be a JSON object: {language code: {field: text}}."]
        names = platform_languages()
        study = self.texts_study()
        own = study.own_language if study is not None else None
        problems = []
        for language, texts in given.items():
            if language not in names:
                problems.append(f"This platform has no language '{language}'; it has {', '.join(names)}.")
            elif language == own:
                problems.append(f"{names[language]} is the study's own language: its texts are the fields "
                                "themselves, not a translation.")
            elif not isinstance(texts, dict):
                problems.append(f"{names[language]}: must be a JSON object of field -> text.")
            else:
                problems += [f"{names[language]} {name}: {problem}" for name, text in texts.items()
                             if (problem := self._translated_problem(name, text))]
        return problems

    def _translated_problem(self, name: str, text: object) -> str:
        if name not in self.TRANSLATED_FIELDS:
            return f"not a text of this row; its texts are {', '.join(self.TRANSLATED_FIELDS)}."
        original = getattr(self, name)
        if isinstance(original, list):
            if not (isinstance(text, list) and all(isinstance(t, str) and t.strip() for t in text)):
                return "must be a list of non-empty texts."
            if len(text) != len(original):
                return f"must have as many entries as the original ({len(original)}), not {len(text)}."
            return ""
        if not isinstance(text, str) or not text.strip():
            return "must be a non-empty text."
        limit = self._meta.get_field(name).max_length
        return f"at most {limit} characters; this has {len(text)}." if limit and len(text) > limit else ""

    def refuse_bad_translations(self) -> None:
        """Raise ValidationError if anything is wrong with ``translations``: not tied to one field, as forms
        edit them through fields of their own (studyapp.translation_admin), and each message names the
        language and the text."""
        problems = self.translation_problems()
        if problems:
            raise ValidationError({NON_FIELD_ERRORS: problems})


class Study(TranslatedModel):
    TRANSLATED_FIELDS = ("title", "consent_text", "withdrawal_text", "debriefing_text", "confidence_anchors")

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        LIVE = "live", "Live"
        PAUSED = "paused", "Paused"
        CLOSED = "closed", "Closed"

    slug = models.SlugField(unique=True)
    title = models.CharField(max_length=200)
    class Design(models.TextChoices):
        BETWEEN = "between", "Between participants: each participant reads one condition"
        WITHIN = "within", "Within participants: each participant reads every condition"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    design = models.CharField(
        max_length=10, choices=Design.choices, default=Design.BETWEEN,
        help_text="Within: every trial's condition is set by a Latin square, each condition equally often "
        "per participant (trials per participant must be a multiple of the conditions).",
    )
    target_per_condition = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(1)],
        help_text="Participants to complete the study in each condition (within participants, where each "
        "reads every condition: participants to complete the study).",
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
    prolific_study_id = models.CharField(
        "Prolific study id", max_length=64, blank=True,
        help_text="Prolific's id of this study: when set, an arrival's STUDY_ID must be this, and with a "
        "Prolific API token (PROLIFIC_API_TOKEN) the study is synced with its submissions there.",
    )
    prolific_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When its participants were last checked against Prolific."
    )
    prolific_sync_outcome = models.CharField(
        max_length=300, blank=True, help_text="What the last sync with Prolific found, or why it failed."
    )
    test_prolific_pids = models.TextField(
        "Prolific IDs of test runs", blank=True,
        help_text="PROLIFIC_PIDs (one per line) of your own test accounts on Prolific: their arrivals "
        "through the study link are test runs, never counted. Staff signed in to this site are test runs "
        "anyway.",
    )
    attention_checks = models.PositiveSmallIntegerField(
        default=2, help_text="Attention checks per participant, each on a different trial.",
    )
    attention_fail_limit = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)],
        help_text="Failed checks that end in the failed-attention code. Prolific allows rejecting for "
        "attention only after two failed checks (in studies over 5 minutes).",
    )
    consent_hold_minutes = models.PositiveIntegerField(
        default=10, validators=[MinValueValidator(1)],
        help_text="An arrival who has not consented within this long gives up the place.",
    )
    consent_text = models.TextField(
        default=DEFAULT_CONSENT_TEXT, help_text="What the study is and what is stored, on the consent page."
    )
    researchers = models.CharField(max_length=300, blank=True, help_text="Who runs the study.")
    institution = models.CharField(max_length=300, blank=True)
    ethics_approval = models.CharField(
        max_length=300, blank=True, help_text="The committee and the approval's reference."
    )
    contact = models.CharField(
        max_length=300, blank=True, help_text="How participants reach the researchers."
    )
    estimated_minutes = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1)],
        help_text="Shown at consent until 10 participants from Prolific have completed; then their median is "
        "shown.",
    )
    withdrawal_text = models.TextField(default=DEFAULT_WITHDRAWAL_TEXT)
    debriefing_text = models.TextField(
        default=DEFAULT_DEBRIEFING_TEXT,
        help_text="Shown with the completion code. Left at the default, it follows the design (within "
        "participants, it says that each participant read every kind of text).",
    )
    practice_trial = models.BooleanField(
        default=False,
        help_text="Show a practice problem after the instructions (a stimulus marked as practice); "
        "its answers are kept but never analysed.",
    )
    answer_position = models.CharField(
        max_length=6, choices=AnswerPosition.choices, default=AnswerPosition.AFTER_TRACE,
        help_text="Where trial pages show the model's answer. After the trace (the default), participants "
        "read the reasoning before they see the answer it led to, which the predictability items ask "
        "about; before the trace is the original layout. Either way it comes before the ratings. Decide "
        "before the study goes live: the exports do not record which layout a participant saw.",
    )
    return_countdown_seconds = models.PositiveSmallIntegerField(
        default=0,
        help_text="0: the completion page waits for the participant. Otherwise, where JavaScript runs, "
        "a visible countdown the participant can stop sends them back to Prolific.",
    )
    trial_task = models.CharField(
        max_length=12, choices=TrialTask.choices, default=TrialTask.RATING,
        help_text="What participants do on a trial. Verification needs stimuli graded right and wrong; "
        "simulation needs each stimulus's answer candidates and a masked text in every condition.",
    )
    truth_definition = models.CharField(
        max_length=10, choices=TruthDefinition.choices, default=TruthDefinition.STRICT,
        help_text="Verification: which grade of the model's answer is the ground truth.",
    )
    confidence_anchors = models.JSONField(
        default=default_confidence_anchors,
        help_text="Verification and simulation: the five labels of the confidence scale, from 1 up.",
    )
    simulation_feedback = models.BooleanField(
        default=False,
        help_text="Simulation: the page revealing the model's answer also says whether the prediction "
        "matched it. Off by default: feedback teaches participants the model as they go, which changes "
        "their later predictions.",
    )
    languages = models.JSONField(
        default=default_languages,
        help_text="The languages participants may read the study in, as codes, its own texts' language "
        'first: ["en"], or ["en", "de"] to offer German too (each language it offers needs every text of the '
        "study in it, checked when it goes live). A participant gets the language the study link's lang "
        "names (&lang=de), else their browser's, else the first; docs/researchers/languages.md.",
    )
    step_rating = models.BooleanField(
        default=False,
        help_text="Rating task: show each trace as numbered steps (a decomposition trace's classification "
        "and retrieval steps; another trace's paragraphs) and ask for the first wrong step, or none, before "
        "the ratings. Scored against the stimuli's graded steps where they have them.",
    )
    protect_problem_text = models.BooleanField(
        default=False,
        help_text="Show the problem and the reasoning text so that they cannot be selected, copied, cut or "
        "dragged out (attempts are still counted), to deter pasting them into a chatbot. A deterrent, not "
        "a barrier: a participant can still retype or photograph the text. Screen readers still read it, "
        "but participants who select text to follow it, to have it read aloud or translated by a browser "
        "tool, or to magnify it lose that help.",
    )
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
        """Refuse to go live unless ready, wherever the save comes from (admin form, admin action,
        code). Never write content_version back: only content.bump_version moves it, in SQL, so an
        edit of the study made from an older copy cannot roll it back to a version some process
        has cached with older content."""
        self._refuse_live_unless_ready()
        self._stored_status = self.status
        if kwargs.get("update_fields") is None:
            self._debriefing_for_design()
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "content_version"
            ]
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        study = super().from_db(db, field_names, values)
        study._stored_status = study.status if "status" in field_names else None
        return study

    def clean(self) -> None:
        languages_problem = self._languages_problem()
        if languages_problem:
            raise ValidationError({"languages": languages_problem})
        self.refuse_bad_translations()
        anchors = self.confidence_anchors
        if not (isinstance(anchors, list) and len(anchors) == CONFIDENCE_POINTS
                and all(isinstance(a, str) and a.strip() for a in anchors)):
            raise ValidationError({"confidence_anchors": (
                f"Give exactly {CONFIDENCE_POINTS} non-empty labels, one per point of the confidence "
                "scale.")})
        if self.attention_checks and self.attention_fail_limit > self.attention_checks:
            raise ValidationError({
                "attention_fail_limit": f"At most the number of checks ({self.attention_checks})."
            })
        if self.step_rating and self.trial_task != TrialTask.RATING:
            raise ValidationError({"step_rating": "Step rating is an option of the rating task."})
        self._refuse_redesign()
        self._refuse_live_unless_ready()

    @property
    def own_language(self) -> str:
        """The language the study's own texts (its fields) are written in: the first it offers."""
        offered = self.languages
        return offered[0] if isinstance(offered, list) and offered else settings.LANGUAGE_CODE

    def texts_study(self) -> "Study":
        return self

    def _languages_problem(self) -> str:
        offered, names = self.languages, platform_languages()
        if not (isinstance(offered, list) and offered and all(isinstance(code, str) for code in offered)):
            return 'Give a list of language codes, the study\'s own first: ["en"] or ["en", "de"].'
        unknown = [code for code in offered if code not in names]
        if unknown:
            return (f"This platform has no {', '.join(unknown)}; its languages are "
                    + ", ".join(f"{code} ({name})" for code, name in names.items()) + ".")
        if len(set(offered)) != len(offered):
            return "Each language once."
        return ""

    def taken_part(self) -> str:
        """Who has taken part, in words ("" if no one, previews included): their stored trials name the
        study's design, order of conditions and condition codes, so those stay fixed once anyone has."""
        if self.pk is None:
            return ""
        n = self.participants.aggregate(all=Count("pk"), previews=Count("pk", filter=Q(is_preview=True)))
        if not n["all"]:
            return ""
        previews = f", {n['previews']} of them previews, pilot bots or test runs" if n["previews"] else ""
        return f"participants have taken part ({n['all']} so far{previews})"

    def _refuse_redesign(self) -> None:
        """The design, the trials per participant and the trial task (with its ground truth) stay as they
        were once anyone has taken part: the stored trials, stimulus lists and judgements of those
        participants were made under them."""
        stored = Study.objects.filter(pk=self.pk).values("design", "trials_per_participant", "trial_task",
                                                          "truth_definition").first()
        if stored is None:
            return
        changed = {name: value for name, value in stored.items() if value != getattr(self, name)}
        taken = changed and self.taken_part()
        if not taken:
            return
        again = ("Run it as a new study made from this one's spec file (manage.py study_spec export, then "
                 "import with --slug); previews, pilot bots and test runs can be deleted in the "
                 "participants' list.")
        errors = {}
        if "design" in changed:
            errors["design"] = (f"The design cannot change: {taken}, whose trials were drawn for a "
                                f"{stored['design']} design. {again}")
        for name in ("trial_task", "truth_definition"):
            if name in changed:
                errors[name] = (f"The trial task and its ground truth cannot change: {taken}, whose "
                                f"{'judgements were' if stored['trial_task'] != 'rating' else 'trials were'} "
                                f"made under them. {again}")
        if "trials_per_participant" in changed:
            errors["trials_per_participant"] = (
                f"The trials per participant cannot change: {taken}, with "
                f"{stored['trials_per_participant']} trials each from stimulus lists of that length, which "
                f"new participants share to keep the problems balanced over the conditions. {again}")
        raise ValidationError(errors)

    def _debriefing_for_design(self) -> None:
        """A debriefing left at a design's default takes the default of the study's design: the between
        default tells participants that each read one kind of text, which is untrue within participants.
        A researcher's own text is never touched."""
        defaults = {self.Design.BETWEEN: DEFAULT_DEBRIEFING_TEXT,
                    self.Design.WITHIN: DEFAULT_WITHIN_DEBRIEFING_TEXT}
        if self.debriefing_text in defaults.values() and self.design in defaults:
            self.debriefing_text = defaults[self.design]

    def _refuse_live_unless_ready(self) -> None:
        """A study going live must be ready for participants: what stops it is what the receivers of
        ``study_going_live`` return (study_setup.readiness_problems, which reads these models)."""
        stored = getattr(self, "_stored_status", None)
        going_live = self.status == self.Status.LIVE and stored != self.Status.LIVE
        if going_live and self.pk is None:
            raise ValidationError({"status": [
                "A new study has no stimuli yet: save it as a draft, add its stimuli and their "
                "traces, then set it live."
            ]})
        if going_live:
            if not study_going_live.has_listeners(Study):
                raise ImproperlyConfigured("Nothing checks a study's readiness: studyapp.study_setup "
                                           "connects study_going_live when the app is ready.")
            problems = [p for _, found in study_going_live.send(sender=Study, study=self) for p in found]
            if problems:
                raise ValidationError({"status": ["It cannot be live yet: " + " ".join(problems)]})

    @property
    def time_limit(self) -> timedelta:
        return timedelta(minutes=self.time_limit_minutes)

    @property
    def judged(self) -> bool:
        """Trials ask for a judgement with ground truth (verification or simulation), not only ratings."""
        return self.trial_task != TrialTask.RATING

    @property
    def answer_before_trace(self) -> bool:
        """Trial pages show the model's answer with the question, before its trace (the old layout)."""
        return self.answer_position == AnswerPosition.BEFORE_TRACE

    def abandon_cutoff(self, now: datetime) -> datetime:
        """Active participants who started before this moment have run out of time."""
        return now - self.time_limit

    def hold_cutoff(self, now: datetime) -> datetime:
        """Arrivals before this moment who have not consented have given up their place."""
        return now - timedelta(minutes=self.consent_hold_minutes)

    def is_test_pid(self, prolific_pid: str) -> bool:
        """Whether this PROLIFIC_PID is one of the researchers' own test accounts."""
        return prolific_pid.lower() in self.test_prolific_pids.lower().split()


def refuse_deleting_texts_in_use(texts: QuerySet) -> None:
    """Raise ProtectedError, saying why, if any of these conditions, stimuli or traces belongs to a study
    with participants (previews included): their stored trials name its stimuli and conditions, and every
    text they read is kept with their answers. Texts can still be corrected; each change makes a new
    version."""
    study_ids = texts.values("stimulus__study_id" if texts.model is StimulusTrace else "study_id")
    in_use = Study.objects.filter(pk__in=study_ids).annotate(n=Count("participants")).filter(n__gt=0)
    taken = ", ".join(f"{study.slug} ({study.n} so far)" for study in in_use.order_by("slug"))
    if taken:
        raise ProtectedError(
            f"These {texts.model._meta.verbose_name_plural} cannot be deleted: participants have taken part "
            f"in study {taken}; their trials name its stimuli and conditions, and their answers are kept "
            "with the texts they read. Correct the texts instead: every change is kept as a new version.",
            set(texts),
        )


class StudyTextQuerySet(models.QuerySet):
    """Conditions, stimuli and traces: ``delete()`` refuses those of a study with participants, whatever
    calls it (the admin, the shell, a related manager)."""

    def delete(self) -> tuple[int, dict[str, int]]:
        refuse_deleting_texts_in_use(self)
        return super().delete()


class StudyTextModel(TranslatedModel):
    """Condition, Stimulus and StimulusTrace: an instance's ``delete()`` is refused as the queryset's is."""

    objects = StudyTextQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        refuse_deleting_texts_in_use(type(self).objects.filter(pk=self.pk))
        return super().delete(*args, **kwargs)


class Condition(StudyTextModel):
    """One kind of text participants read: its code (in every export), its label, the heading above it on
    the trial page, and where its texts come from."""

    TRANSLATED_FIELDS = ("trace_heading",)

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="conditions")
    code = models.SlugField(
        max_length=40, help_text="A short name (letters, digits, _ and -), the same in every export."
    )
    label = models.CharField(max_length=120, help_text="What the condition is, for researchers.")
    trace_heading = models.CharField(
        max_length=100, default=DEFAULT_TRACE_HEADING,
        help_text="Heading above the text on the trial page.",
    )
    trace_kind = models.CharField(
        max_length=20, choices=TraceKind.choices, default=TraceKind.IMPORTED,
        help_text="The kind of text the stimulus builder takes for it from the traces.",
    )
    text_source = models.CharField(
        max_length=300, blank=True, help_text="Where its texts come from (a job, a model, a file), in words."
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in the study's pages and tables.")

    class Meta:
        ordering = ["study", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="condition_unique_per_study"),
        ]

    def __str__(self) -> str:
        return self.code

    #: What participants' stored trials depend on, and why it stays fixed once anyone has taken part.
    FIXED_ONCE_TAKEN = {
        "code": "their stored trials and the condition's texts name it",
        "position": "within participants the order sets the Latin square and the stimulus lists' rotation, "
                    "which their stored lists refer to",
        "trace_kind": "it says what kind of text they read",
    }

    def clean(self) -> None:
        """Once participants have taken part, no condition is added and none changes its code, order or kind
        of text; its label, heading and source can still be corrected."""
        self.refuse_bad_translations()
        taken = self.study.taken_part() if self.study_id else ""
        if not taken:
            return
        if self.pk is None:
            raise ValidationError(
                f"No condition can be added: {taken}, assigned over the conditions there are. Run more "
                "conditions as a new study made from this one's spec file."
            )
        stored = Condition.objects.filter(pk=self.pk).values(*self.FIXED_ONCE_TAKEN).first() or {}
        errors = {
            name: f"This cannot change: {taken}, and {why}. The label, heading and source can be corrected."
            for name, why in self.FIXED_ONCE_TAKEN.items()
            if name in stored and stored[name] != getattr(self, name)
        }
        if errors:
            raise ValidationError(errors)


class Stimulus(StudyTextModel):
    """A question-answering problem with the model's answer, shown with one trace per condition."""

    TRANSLATED_FIELDS = ("context_facts", "question", "model_answer", "answer_candidates")

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="stimuli")
    code = models.CharField(max_length=100, help_text="Stable identifier, e.g. cotempqa-equal-291.")
    source = models.CharField(max_length=300, blank=True, help_text="Where the problem comes from.")
    context_facts = models.JSONField(help_text="List of context sentences.")
    question = models.TextField()
    gold_answers = models.JSONField(help_text="List of accepted answers.")
    model_answer = models.TextField(
        "The model's answer, as shown",
        help_text="The short final answer every condition shows (taken from the model's text; edit it here).",
    )
    model_answer_original = models.TextField(
        "The model's answer, as written", blank=True,
        help_text="The model's whole answer text, kept for provenance; never shown to participants.",
    )
    is_practice = models.BooleanField(
        default=False, help_text="The practice problem: shown before the trials, never drawn for one."
    )
    grades = models.JSONField(
        default=dict, blank=True,
        help_text="The model output's grades (empty: no ground truth): answer_strict, answer_published, "
        "classification_/retrieval_ strict, published or intended (true, false or null), and source (where "
        "the grades come from).",
    )
    answer_candidates = models.JSONField(
        default=list, blank=True,
        help_text="Simulation: the answers participants choose among (the entities the problem's facts "
        "name), shown in random order with \"None of these\".",
    )

    class Meta:
        verbose_name_plural = "stimuli"
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="stimulus_unique_code_per_study"),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        for field in ("context_facts", "gold_answers", "answer_candidates"):
            value = getattr(self, field)
            if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
                raise ValidationError({field: "Must be a JSON list of strings."})
        self.refuse_bad_translations()
        problem = grades_problem(self.grades)
        if problem:
            raise ValidationError({"grades": problem})
        self._refuse_changing_what_was_judged()

    def _refuse_changing_what_was_judged(self) -> None:
        """Once participants have made predictions on the stimulus, its candidates stay: a prediction is
        sent as one of the candidates shown, by its place in their order. (Its grades may be corrected:
        each judgement keeps the truth it was scored against.)"""
        if self.pk is None:
            return
        stored = Stimulus.objects.filter(pk=self.pk).values_list("answer_candidates", flat=True).first()
        n = self.judgements.count() if stored is not None and stored != self.answer_candidates else 0
        if n:
            raise ValidationError({"answer_candidates": (
                f"The candidates cannot change: participants have made {n} judgements on this stimulus among "
                "them, each sent as its place in the order shown.")})

    def answer_correct(self, definition: str) -> bool | None:
        """Whether the model's answer is right under `definition` (strict or published); None when the
        stimulus is not graded so."""
        value = (self.grades or {}).get(f"answer_{definition}")
        return value if isinstance(value, bool) else None

    def trace_correct(self, definition: str) -> bool | None:
        """Whether both steps of a decomposition trace (classification and retrieval) are right under
        `definition`; None when either is not graded."""
        grades = self.grades or {}
        steps = [grades.get(f"{step}_{definition}") for step in ("classification", "retrieval")]
        return all(steps) if all(isinstance(step, bool) for step in steps) else None

    def predicts(self, choice: str) -> bool:
        """Whether a simulation choice (a candidate, or "" for "none of these") is the model's answer: the
        same text but for case and spaces; "none of these" when the answer is not among the candidates."""
        answer = normalised_answer(self.model_answer)
        if choice == "":
            return all(normalised_answer(c) != answer for c in self.answer_candidates)
        return normalised_answer(choice) == answer


GRADE_KEYS = (
    "answer_strict", "answer_published", "classification_strict", "retrieval_strict",
    "classification_published", "retrieval_published", "classification_intended", "retrieval_intended",
)


def grades_problem(grades: object) -> str:
    """Why a stimulus's grades are not a dict of GRADE_KEYS to true/false/null (plus source), or ""."""
    if not isinstance(grades, dict):
        return "Must be a JSON object of grades."
    for key, value in grades.items():
        if key == "source":
            if not isinstance(value, str):
                return "source must be a string."
        elif key not in GRADE_KEYS:
            return f"Unknown grade {key!r}: the grades are {', '.join(GRADE_KEYS)} and source."
        elif value is not None and not isinstance(value, bool):
            return f"{key} must be true, false or null, not {value!r}."
    return ""


def normalised_answer(text: str) -> str:
    """An answer compared for a simulation prediction: lower case, runs of spaces as one."""
    return " ".join(str(text).split()).casefold()


def several_candidates(answer: str, candidates: list[str]) -> list[str]:
    """The candidates a model's answer names when it names more than one and is none of them whole
    ("Catholic bishop; titular bishop"): no single choice is that answer, so a simulation trial on it
    cannot be scored; empty otherwise."""
    offered = {normalised_answer(c): c for c in candidates}
    if normalised_answer(answer) in offered:
        return []
    named = (normalised_answer(part) for part in re.split(r"[;,]| and ", answer))
    parts = [offered[part] for part in named if part in offered]
    return parts if len(parts) > 1 else []


EMPTY_TEXT = ("A text is needed: only a condition of the kind "
              f"'{TraceKind.ANSWER_ONLY.label}' shows no text.")


class StimulusTrace(StudyTextModel):
    """The text a participant in one condition reads for one stimulus (its versions: TraceVersion)."""

    TRANSLATED_FIELDS = ("text", "masked_text")

    stimulus = models.ForeignKey(Stimulus, on_delete=models.CASCADE, related_name="traces")
    condition = models.SlugField(max_length=40, help_text="The code of the study's condition that reads it.")
    text = models.TextField(
        blank=True, help_text="Empty only in a condition that shows the model's answer alone."
    )
    reference_trace = models.ForeignKey(
        "traces.ReferenceTrace", on_delete=models.PROTECT, null=True, blank=True,
        related_name="stimulus_traces",
        help_text="The trace this text was taken from (made by a job or imported), when it was.",
    )
    provenance = models.JSONField(
        default=dict, blank=True,
        help_text="Where the text came from: problem, trace, source, job, model, prompt (kept in the "
        "exports).",
    )
    masked_text = models.TextField(
        blank=True,
        help_text="Simulation: the text with the model's final answer withheld, shown before the answer is "
        "revealed. Empty: not available (the stimulus cannot be used in a simulation study).",
    )
    mask_note = models.CharField(
        max_length=300, blank=True,
        help_text="What was masked, or why the text could not be masked safely.",
    )

    class Meta:
        ordering = ["stimulus", "condition"]
        constraints = [
            models.UniqueConstraint(
                fields=["stimulus", "condition"], name="trace_unique_per_stimulus_condition"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stimulus.code} / {self.condition}"

    def clean(self) -> None:
        """A text in every condition but one that shows the answer alone (checked here once the stimulus is
        stored; a study file's are checked with the file)."""
        self.refuse_bad_translations()
        if self.text.strip() or not self.stimulus_id:
            return
        kind = Condition.objects.filter(study_id=self.stimulus.study_id, code=self.condition).values_list(
            "trace_kind", flat=True).first()
        if kind != TraceKind.ANSWER_ONLY:
            raise ValidationError({"text": EMPTY_TEXT})

    def texts_study(self) -> "Study | None":
        stimulus = getattr(self, "stimulus", None)
        return getattr(stimulus, "study", None)

    def shown_texts(self) -> dict[str, object]:
        """What a participant reads on the trial: this text and its stimulus's shown texts, with their
        translations (language -> the texts given in it)."""
        stimulus = self.stimulus
        translations = {}
        for language in sorted({*stimulus.translations, *self.translations}):
            given = {name: text for name, text in stimulus.translations.get(language, {}).items()
                     if name in VERSION_TEXTS}
            given.update(self.translations.get(language, {}))
            if given:
                translations[language] = dict(sorted(given.items()))
        return {"text": self.text, "context_facts": stimulus.context_facts, "question": stimulus.question,
                "model_answer": stimulus.model_answer, "masked_text": self.masked_text,
                "translations": translations}


#: The texts of a trial that a version keeps (TraceVersion's fields and their translations).
VERSION_TEXTS = ("text", "context_facts", "question", "model_answer", "masked_text")


@dataclass(frozen=True)
class ShownTexts:
    """A trial's texts in the language one participant reads them (TraceVersion.in_language)."""

    text: str
    context_facts: list[str]
    question: str
    model_answer: str
    masked_text: str


class TraceVersion(models.Model):
    """The texts of one trial as participants read them at one time: a trace's text and its stimulus's
    context facts, question and shown answer. Made by studyapp.versions whenever one of them changes;
    never changed afterwards, and never deleted once read (PageVisit.trace_version)."""

    trace = models.ForeignKey(StimulusTrace, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(help_text="1 for the first text, then one more for each change.")
    text = models.TextField()
    context_facts = models.JSONField()
    question = models.TextField()
    model_answer = models.TextField()
    masked_text = models.TextField(blank=True, help_text="The text with the answer withheld (simulation).")
    translations = models.JSONField(
        default=dict, blank=True,
        help_text="The same texts in the study's other languages, as they were then: {language code: {text: "
        "..., context_facts: [...], question: ..., model_answer: ..., masked_text: ...}} (those given).",
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="Who made the change, when it was made in the admin.",
    )

    class Meta:
        ordering = ["trace", "number"]
        constraints = [
            models.UniqueConstraint(fields=["trace", "number"], name="trace_version_unique_number"),
        ]

    def __str__(self) -> str:
        return f"{self.trace} v{self.number}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise ValueError("A version of a text is never changed: change the trace or stimulus instead.")
        super().save(*args, **kwargs)

    def shown_texts(self) -> dict[str, object]:
        return {"text": self.text, "context_facts": self.context_facts, "question": self.question,
                "model_answer": self.model_answer, "masked_text": self.masked_text,
                "translations": self.translations}

    def in_language(self, language: str) -> ShownTexts:
        """The texts as a participant reading `language` was shown them: each translated one in it, the
        others as written (a study offers a language only once every text is in it)."""
        given = self.translations.get(language, {})
        return ShownTexts(**{name: given.get(name) or getattr(self, name) for name in VERSION_TEXTS})


class Item(TranslatedModel):
    """A 5- or 7-point questionnaire item; its code starts with its construct (``faithfulness_1``).
    A reverse-keyed item is scored as scale_points + 1 - value in the analysis (the answer is stored as
    chosen)."""

    TRANSLATED_FIELDS = ("text", "anchors")

    class Scope(models.TextChoices):
        TRIAL = "trial", "Under every trace"
        END = "end", "End of study"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="items")
    code = models.SlugField(max_length=60)
    construct = models.SlugField(
        max_length=40, help_text="What the item measures (a slug); attention_check for an instructed item."
    )
    scope = models.CharField(max_length=10, choices=Scope.choices)
    text = models.TextField()
    scale_points = models.PositiveSmallIntegerField(
        default=5, choices=[(n, f"{n} points") for n in SCALE_POINTS], help_text="5 or 7."
    )
    anchors = models.JSONField(help_text="One label for each scale point, from 1 up.")
    reverse_keyed = models.BooleanField(
        default=False, help_text="Agreement means less of the construct: scored as points + 1 - value."
    )
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
            or len(self.anchors) != self.scale_points
            or not all(isinstance(a, str) and a.strip() for a in self.anchors)
        ):
            errors["anchors"] = f"Give exactly {self.scale_points} non-empty labels, one per scale point."
        translation_problems = self.translation_problems()
        if translation_problems:
            errors[NON_FIELD_ERRORS] = translation_problems
        if self.expected_value is not None and not LIKERT_MIN <= self.expected_value <= self.scale_points:
            errors["expected_value"] = f"A point of the scale, 1 to {self.scale_points}."
        if self.is_attention_check and self.expected_value is None:
            errors["expected_value"] = "An attention check needs the instructed answer."
        if self.is_attention_check and self.scope != self.Scope.TRIAL:
            errors["scope"] = "The attention check is shown under a trace."
        stored = Item.objects.filter(pk=self.pk).values_list("scale_points", flat=True).first()
        if stored is not None and stored != self.scale_points:
            answers = Response.objects.filter(item_id=self.pk).count()
            if answers:
                errors["scale_points"] = (
                    f"The scale cannot change: the item has {answers} answers, given on its {stored}-point "
                    "scale."
                )
        if errors:
            raise ValidationError(errors)


class ParticipantQuerySet(models.QuerySet):
    def real(self) -> "ParticipantQuerySet":
        """Participants from Prolific: not a researcher's preview, pilot bot or test run."""
        return self.filter(is_preview=False)

    def out_of_time(self, study: Study, now: datetime) -> "ParticipantQuerySet":
        """Active participants who started before the time limit: their slots have re-opened."""
        return self.real().filter(
            study=study, status=Participant.Status.ACTIVE, started_at__lt=study.abandon_cutoff(now)
        )

    def hold_expired(self, study: Study, now: datetime) -> "ParticipantQuerySet":
        """Active arrivals who did not consent within the study's hold: their places re-open."""
        return self.real().filter(
            study=study, status=Participant.Status.ACTIVE, consented_at__isnull=True,
            started_at__lt=study.hold_cutoff(now),
        )

    def holding_a_slot(
        self, study: Study, now: datetime, pilot: "Pilot | None" = None
    ) -> "ParticipantQuerySet":
        """Those counted toward a condition's target: completed, or active within the time limit
        (and, before consenting, within the consent hold). With ``pilot``, the same among that run's bots
        instead (they count among themselves, never toward the study's places)."""
        people = self.real() if pilot is None else self.filter(pilot=pilot)
        return people.filter(study=study).filter(
            Q(status=Participant.Status.COMPLETED)
            | (
                Q(status=Participant.Status.ACTIVE, started_at__gte=study.abandon_cutoff(now))
                & (Q(consented_at__isnull=False) | Q(started_at__gte=study.hold_cutoff(now)))
            )
        )


class Participant(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        RETURNED = "returned", "Returned"
        TIMED_OUT = "timed_out", "Timed out"
        NO_CONSENT = "no_consent", "No consent"
        SCREENED_OUT = "screened_out", "Screened out (failed attention checks)"
        EXPIRED = "expired", "Place released (no consent in time)"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="participants")
    condition = models.ForeignKey(
        Condition, on_delete=models.PROTECT, null=True, blank=True, related_name="participants",
        help_text="Between participants: the condition they read. Empty within participants (see "
        "trial_conditions).",
    )
    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    prolific_pid = models.CharField("PROLIFIC_PID", max_length=24)
    prolific_study_id = models.CharField("STUDY_ID", max_length=64, blank=True)
    prolific_session_id = models.CharField("SESSION_ID", max_length=64, blank=True)
    is_preview = models.BooleanField(
        default=False,
        help_text="Not a participant from Prolific: a researcher's preview, a pilot bot or a test run; never "
        "counted, exported or analysed unless asked for.",
    )
    pilot = models.ForeignKey(
        "Pilot", on_delete=models.SET_NULL, null=True, blank=True, related_name="participants",
        help_text="A pilot bot: the run it belongs to (is_preview is set with it). A run's bots take places, "
        "lists and conditions among themselves as participants do in the study, never the study's own.",
    )
    test_run = models.BooleanField(
        default=False,
        help_text="A researcher's try through the real study link (signed in as staff, a test PROLIFIC_PID, "
        "or marked in the admin); is_preview is set with it, so it is never counted.",
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    stimulus_sequence = models.JSONField(help_text="Stimulus ids, in the order shown.")
    trial_conditions = models.JSONField(
        default=list, blank=True, help_text="The condition code of each trial, in the order shown."
    )
    stimulus_list = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="The counterbalancing list drawn at entry (which stimuli, and within participants which "
        "condition each is read in); counted among those holding a place, so a leaver's list re-opens.",
    )
    condition_order = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Within participants: the row of the Latin square ordering the trials' conditions.",
    )
    item_order = models.JSONField(help_text="Per-trial item ids, in the order shown under each trace.")
    end_item_order = models.JSONField(help_text="End-of-study item ids, in the order shown.")
    attention_plan = models.JSONField(
        default=list, blank=True,
        help_text="The attention checks: [{trial, position, item}], trial and position from 1.",
    )
    attention_failures = models.PositiveSmallIntegerField(default=0)
    attention_passed = models.BooleanField(
        null=True, blank=True, help_text="Fewer failed checks than the study's limit; empty before any."
    )
    practice_stimulus = models.ForeignKey(
        Stimulus, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        help_text="The practice problem shown before the trials, if the study has one.",
    )
    consented_at = models.DateTimeField(null=True, blank=True)
    device_class = models.CharField(
        max_length=10, blank=True, help_text="phone, tablet or desktop, from the browser at arrival."
    )
    language = models.CharField(
        max_length=10, default=settings.LANGUAGE_CODE,
        help_text="The language the participant reads the study in, one the study offers: chosen at arrival "
        "(the study link's lang, else the browser's, else the study's first) and kept for all their pages.",
    )
    user_agent = models.CharField(max_length=300, blank=True)
    viewport_width = models.PositiveIntegerField(
        null=True, blank=True, help_text="CSS pixels, at consent; empty without JavaScript."
    )
    pages_done = models.PositiveSmallIntegerField(default=0, help_text="Pages submitted so far.")
    comment = models.TextField(blank=True)
    prolific_status = models.CharField(
        max_length=20, blank=True, help_text="The submission's status on Prolific at the last sync."
    )
    prolific_problem = models.CharField(
        max_length=200, blank=True,
        help_text="Why this arrival matches no submission on Prolific, if it does not.",
    )
    prolific_checked_at = models.DateTimeField(null=True, blank=True, help_text="Last synced with Prolific.")
    prolific_verified_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When Prolific confirmed that this SESSION_ID is this participant's submission of this "
        "study (at the door or by a sync). Nothing is sent to Prolific for a participant without it.",
    )

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

    def hold_has_expired(self, now: datetime) -> bool:
        """The same rule as ParticipantQuerySet.hold_expired, for one participant in hand."""
        return (
            not self.is_preview
            and self.status == self.Status.ACTIVE
            and self.consented_at is None
            and self.started_at < self.study.hold_cutoff(now)
        )

    def deadline(self) -> datetime:
        return self.started_at + self.study.time_limit


class PageVisit(models.Model):
    """Server-side times of one page for one participant: first and last shown, and submitted.

    The times are empty only for a page submitted without ever being shown (not by a browser).
    """

    # no index of its own: visit_unique_page's (participant, page) serves every lookup by participant, and
    # one index fewer is written on each page a participant is shown
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="visits",
                                    db_index=False)
    page = models.CharField(max_length=20)
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, null=True, blank=True)
    trace_version = models.ForeignKey(
        TraceVersion, on_delete=models.PROTECT, null=True, blank=True, related_name="visits",
        help_text="Trial and practice pages: the texts shown (the first time, kept on every later showing); "
        "empty on other pages and on visits recorded before texts had versions.",
    )
    first_shown_at = models.DateTimeField(null=True, blank=True, help_text="Empty if never shown.")
    last_shown_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    trace_visible_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Trial pages: how long the trace was on screen, in ms (browser-measured; empty "
        "without JavaScript).",
    )
    trace_end_seen = models.BooleanField(
        null=True, blank=True,
        help_text="Trial pages: whether the trace's last line was ever wholly on screen while the tab was "
        "in front (browser-measured; empty without JavaScript).",
    )
    trace_end_first_seen_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Trial pages: ms from the page starting to load to the trace's last line first being on "
        "screen (empty if it never was, or without JavaScript).",
    )
    trace_end_visible_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Trial pages: how long the trace's last line was on screen in all, in ms, counted while "
        "the tab was in front (0 if never; empty without JavaScript).",
    )
    # Step rating (the study's step_rating): the trace's steps as shown, the step marked as the first wrong
    # one (0: none), and where the graded steps say it is (empty: not graded step by step).
    steps_shown = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Step rating: how many steps the trace was shown as.",
    )
    first_wrong_step = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Step rating: the step the participant marked as the first wrong one (from 1; 0: none).",
    )
    first_wrong_step_truth = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Step rating: the first wrong step by the stimulus's graded steps under the study's truth "
        "definition (0: none wrong; empty: the trace is not graded step by step).",
    )
    first_wrong_step_correct = models.BooleanField(
        null=True, blank=True, help_text="Step rating: the mark is the graded first wrong step.",
    )
    # Paradata: what the participant did while the page was open, as their browser saw it (trial,
    # practice and questionnaire pages; all empty without JavaScript). Never what was typed or pasted.
    away_count = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Times the participant left the page while it was open: the tab hidden or the browser "
        "window out of focus (another tab, window or application).",
    )
    away_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="How long the participant was away from the page in all, in ms."
    )
    paste_count = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Pastes on the page (into the comment box, say); not what was pasted.",
    )
    copy_count = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Copies or cuts of text selected in the problem or the reasoning text (counted even where "
        "the study blocks them); not what was copied.",
    )
    key_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Key presses on the page; not which keys."
    )
    pointer_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="Clicks and taps on the page; not where."
    )
    automated = models.BooleanField(
        null=True, blank=True,
        help_text="Whether the browser showed a sign of being driven by software (automation_signals).",
    )
    automation_signals = models.CharField(
        max_length=100, blank=True, db_default="",  # in the table: a page's visit is inserted in SQL
        help_text="The signs of automation seen, separated by ';': webdriver (navigator.webdriver, set by "
        "WebDriver, Playwright and Puppeteer), headless (a headless browser's user agent), phantom, "
        "nightmare, selenium (globals those tools leave).",
    )
    trace_scroll_depth = models.FloatField(
        null=True, blank=True,
        help_text="Deprecated, no longer measured: the share of the trace that had been on screen, 0 to 1. "
        "It was 1.0 on every page submitted, because the ratings sit below the trace; kept for data "
        "collected before the trace_end_* measures replaced it.",
    )

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


class TrialJudgement(models.Model):
    """A participant's judgement on one trial of a verification or simulation study, scored against the
    ground truth at the time: verification, whether the model's answer is correct ("yes"/"no", against
    the stimulus's grade under the study's truth definition); simulation, which answer the model gives
    (a candidate, or "" for "none of these", against the model's own answer)."""

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="judgements")
    stimulus = models.ForeignKey(Stimulus, on_delete=models.PROTECT, related_name="judgements")
    condition = models.SlugField(max_length=40, help_text="The code of the trial's condition.")
    task = models.CharField(max_length=12, choices=TrialTask.choices)
    choice = models.CharField(
        max_length=300, blank=True,
        help_text="Verification: yes or no. Simulation: the candidate chosen, empty for \"none of these\".",
    )
    correct = models.BooleanField(help_text="The choice matches the ground truth.")
    truth = models.CharField(
        max_length=300, blank=True,
        help_text="The ground truth at the time: yes or no (verification), the model's answer (simulation).",
    )
    confidence = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(CONFIDENCE_POINTS)],
        help_text="1 (not at all confident) to 5 (completely confident), on the study's anchors.",
    )
    server_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Server time from first showing the page to its submission."
    )
    choice_ms = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Browser: ms from the text being on screen to the choice (empty without JavaScript).",
    )
    options_shown = models.JSONField(
        default=list, blank=True, help_text="Simulation: the candidates in the order shown."
    )
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["participant", "submitted_at"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "stimulus"], name="judgement_unique_per_trial"),
            models.CheckConstraint(condition=Q(confidence__gte=1, confidence__lte=CONFIDENCE_POINTS),
                                   name="judgement_confidence_on_scale"),
        ]

    def __str__(self) -> str:
        return f"{self.participant} {self.stimulus_id} {self.task} = {self.choice!r}"


class ProlificAction(models.Model):
    """One call to Prolific asked for from the admin (approve, reject, set up or pay a bonus, sync), kept
    as it was sent and answered (never the token). A Celery worker makes the call; the web request only
    queues it, so a slow Prolific never holds a web worker."""

    class Kind(models.TextChoices):
        APPROVE = "approve", "Approve"
        REJECT = "reject", "Reject"
        BONUS_SETUP = "bonus_setup", "Set up a bonus (not paid)"
        BONUS_PAY = "bonus_pay", "Pay a bonus"
        SYNC = "sync", "Sync with Prolific"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued (waiting for a worker)"
        SENDING = "sending", "Sending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Outcome unknown (check on Prolific)"

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="prolific_actions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    participants = models.JSONField(default=list, help_text="The PROLIFIC_PIDs it was for.")
    request = models.JSONField(default=dict, help_text="What was sent (no credentials).")
    response = models.JSONField(default=dict, blank=True, help_text="What Prolific answered, or the error.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When a worker began the call.")
    answered_at = models.DateTimeField(null=True, blank=True, help_text="When the outcome was known.")
    bonus_id = models.CharField(max_length=64, blank=True, help_text="Prolific's id of a bonus set-up.")
    paid_at = models.DateTimeField(
        null=True, blank=True, help_text="When a bonus set-up was sent for payment."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({len(self.participants)}) #{self.pk}"

    @property
    def ok(self) -> bool:
        """Prolific accepted the call."""
        return self.status == self.Status.DONE


class Pilot(models.Model):
    """One run of pilot bots through a study (``studyapp.pilot``), asked for in the admin or with
    ``manage.py pilot``: what was asked, how many bots reached the completion page, and each failure
    with the problem behind its page. The bots themselves are preview participants."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting for a worker"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Could not run"

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="pilots")
    bots = models.PositiveIntegerField(validators=[MinValueValidator(1)], help_text="Bots asked for.")
    answers = models.CharField(
        max_length=10, default="random",
        help_text="Ratings: random (a point of each item's own scale), or a fixed point 1..7 (on every "
        "item's scale).",
    )
    attention = models.CharField(
        max_length=10, default="pass", help_text="Attention checks: pass, fail, random."
    )
    accuracy = models.JSONField(
        default=dict, blank=True,
        help_text="Verification and simulation: condition code -> the probability (0 to 1) that a bot in it "
        "answers the judgement correctly (bots know the ground truth); a condition not named: at random.",
    )
    leave = models.FloatField(
        default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Attrition: the share of bots (0 to 1) that stop at a random trial and are marked "
        "returned, as participants who return the study on Prolific are; their places and lists re-open.",
    )
    seed = models.IntegerField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The staff account the bots preview the study as.",
    )
    from_command_line = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    bots_run = models.PositiveIntegerField(default=0)
    bots_completed = models.PositiveIntegerField(
        default=0, help_text="Bots that reached the completion page (with or without a failure there)."
    )
    bots_left = models.PositiveIntegerField(
        default=0, help_text="Bots that stopped part-way, as asked (leave), and were marked returned."
    )
    failures = models.JSONField(
        default=list, blank=True,
        help_text="One per failure: bot, condition, page, what went wrong, and the stimulus, condition and "
        "trace behind the page.",
    )
    error = models.TextField(blank=True, help_text="Why the run itself could not run.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.bots} pilot bots on {self.study.slug} #{self.pk}"


class Role(models.TextChoices):
    """What a member may do in a study (studyapp.access.ROLE_ACTIONS says exactly what each allows)."""

    OWNER = "owner", "Owner (everything: members, going live, Prolific actions that pay or reject)"
    EDITOR = "editor", "Editor (design, stimuli and texts before the study goes live)"
    ANALYST = "analyst", "Analyst (monitor, exports, report)"
    VIEWER = "viewer", "Viewer (monitor only)"


class StudyMember(models.Model):
    """One account's role in one study: a study is invisible to accounts that are not its members
    (superusers apart), so its data reach only the people its ethics approval names."""

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_roles")
    role = models.CharField(max_length=10, choices=Role.choices)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["study", "user"], name="one_role_per_study_and_user")]
        ordering = ["study", "user__username"]

    def __str__(self) -> str:
        return f"{self.user}: {self.role}"


class StudyToken(models.Model):
    """An API token for scripts, limited to some studies and a role and ending at a set time. Only the
    SHA-256 of its key is stored (the key is shown once, when it is made); it acts for its account, never
    beyond that account's own role in each study."""

    name = models.CharField(max_length=100, help_text="What it is for (a script, a machine).")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="study_tokens",
        help_text="The account it acts for: it reaches nothing that account cannot.",
    )
    studies = models.ManyToManyField(Study, related_name="tokens", help_text="The only studies it reaches.")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.ANALYST)
    prefix = models.CharField(max_length=16, editable=False, help_text="The key's first characters.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="After this it is refused.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def usable(self, now: datetime | None = None) -> bool:
        """Neither revoked nor expired, and its account still active."""
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now and self.user.is_active


class AuditEntry(models.Model):
    """Who did what to a study's data or settings, and when: exports, reports, changes of texts and
    settings, Prolific actions, members and tokens. Entries are never edited; they keep the username when
    the account is deleted, and the slug when the study is."""

    class Kind(models.TextChoices):
        EXPORT = "export", "Export"
        CHANGE = "change", "Change of texts or settings"
        ACTION = "action", "Admin action"
        PROLIFIC = "prolific", "Prolific action"
        MEMBERS = "members", "Members"
        TOKEN = "token", "API token"

    study = models.ForeignKey(Study, on_delete=models.SET_NULL, null=True, related_name="audit_entries")
    study_slug = models.SlugField()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    username = models.CharField(max_length=150, help_text="Kept when the account is deleted.")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    what = models.TextField()
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.username}: {self.what}"
