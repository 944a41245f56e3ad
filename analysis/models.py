"""A study's analysis plan, set before data come in: the report runs it first and calls everything
else a sensitivity analysis."""

from django.core.exceptions import ValidationError
from django.db import models

from studyapp.models import Construct, Item


def default_outcomes() -> list[str]:
    """Empty: the study's own constructs, written out when the plan is saved."""
    return []


def study_constructs(study_id: int | None) -> list[str]:
    """The constructs of a study's per-trial items (attention checks apart), in the items' order."""
    rows = Item.objects.filter(study_id=study_id, scope=Item.Scope.TRIAL).exclude(
        construct=Construct.ATTENTION_CHECK).values_list("construct", flat=True)
    return list(dict.fromkeys(rows))


def outcome_problem(outcomes: object, constructs: list[str] | None) -> str | None:
    """What is wrong with a plan's primary outcomes, in words: not a list of construct slugs, or (where
    the study's constructs are known) one that is not among them."""
    if not isinstance(outcomes, list) or not all(isinstance(o, str) and o for o in outcomes):
        return "A list of the study's constructs (slugs); empty for all of them."
    unknown = [o for o in outcomes if constructs is not None and o not in constructs]
    if unknown:
        return (f"Not a construct of this study's per-trial items: {', '.join(unknown)}. Its constructs: "
                f"{', '.join(constructs) or 'none yet'}.")
    return None


class AnalysisPlan(models.Model):
    """What the confirmatory analysis is. Registered (time-stamped) before the study opens; a
    registered plan cannot change: the report lists any other choice as a deviation."""

    class Test(models.TextChoices):
        ORDINAL_MIXED = "ordinal_mixed", "Ordinal mixed model (random participants, stimuli); permutation"
        KRUSKAL = "kruskal", "Kruskal-Wallis on participants' scores"
        WELCH = "welch", "Welch's ANOVA on participants' scores"

    class Pairwise(models.TextChoices):
        MODEL = "model", "Contrasts of the ordinal mixed model (odds ratios, permutation p-values)"
        DUNN = "dunn", "Dunn's tests (Holm)"
        MANN_WHITNEY = "mann_whitney", "Mann-Whitney U tests (Holm)"
        GAMES_HOWELL = "games_howell", "Games-Howell"

    PAIRWISE_FOR = {
        Test.ORDINAL_MIXED: {Pairwise.MODEL},
        Test.KRUSKAL: {Pairwise.DUNN, Pairwise.MANN_WHITNEY},
        Test.WELCH: {Pairwise.GAMES_HOWELL},
    }

    study = models.ForeignKey("studyapp.Study", on_delete=models.CASCADE, related_name="analysis_plans")
    version = models.PositiveSmallIntegerField(
        default=1, editable=False,
        help_text="1, the plan; each later version changes a registered one and is shown as a deviation.",
    )
    deviation = models.TextField(
        blank=True, help_text="From version 2 on: why the registered plan is changed (the report shows it).",
    )
    primary_outcomes = models.JSONField(
        default=default_outcomes, blank=True,
        help_text="The constructs tested as the primary family (Holm across them): any of the constructs of "
        "the study's per-trial items (their slugs, e.g. [\"clarity\", \"trust\"]); left empty, all of them, "
        "written out when the plan is saved. The composite (interpretability, where the study has "
        "predictability, understandability and faithfulness) is always its own family.",
    )
    primary_test = models.CharField(max_length=20, choices=Test.choices, default=Test.ORDINAL_MIXED)
    pairwise = models.CharField(max_length=20, choices=Pairwise.choices, default=Pairwise.MODEL)
    exclude_failed_attention = models.BooleanField(default=True)
    exclude_speeders = models.BooleanField(default=True)
    speeder_seconds = models.FloatField(default=10.0, help_text="Median trial page time under this.")
    exclude_straightliners = models.BooleanField(default=True)
    straightline_scope = models.CharField(
        max_length=5, default="all",
        choices=[("all", "the same answer on every trial item"), ("trial", "within any one trial")],
    )
    # Paradata rules (studyapp.models.PageVisit): off by default; each rule left off is run as a
    # sensitivity analysis of the planned tests wherever it flags anyone.
    exclude_left_page = models.BooleanField(
        default=False, help_text="Exclude participants away from their trial and questionnaire pages "
        "(another tab, window or application) for left_page_seconds or more in all.",
    )
    left_page_seconds = models.FloatField(
        default=30.0, help_text="Seconds away from the pages in all at which a participant is flagged.",
    )
    exclude_pasted = models.BooleanField(
        default=False, help_text="Exclude participants who pasted anything on those pages.",
    )
    exclude_copied = models.BooleanField(
        default=False, help_text="Exclude participants who copied text from a problem or a reasoning text.",
    )
    exclude_automated = models.BooleanField(
        default=False, help_text="Exclude participants whose browser showed a sign of automation "
        "(navigator.webdriver and the like).",
    )
    equivalence_margin = models.FloatField(
        default=0.5,
        help_text="Smallest difference of interest, in scale points of a construct score (a construct is "
        "scored on its items' scale, 1 to 5 or 1 to 7): pairs whose difference lies inside ±this are tested "
        "as equivalent (two one-sided tests).",
    )
    alpha = models.FloatField(default=0.05)
    notes = models.TextField(blank=True, help_text="Hypotheses, predictions, anything else registered.")
    registered_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What had come in when the plan was registered: a plan registered after real participants arrived is
    # not a pre-registration, and every report says so.
    registered_after_participants = models.PositiveIntegerField(
        null=True, blank=True, editable=False,
        help_text="Real participants (not previews, pilot bots or test runs) arrived at registration.",
    )
    registered_after_answers = models.PositiveIntegerField(
        null=True, blank=True, editable=False,
        help_text="Their answers (ratings and judgements) stored at registration.",
    )
    first_participant_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the first of them arrived (if any had)."
    )
    registered_sha256 = models.CharField(
        max_length=64, blank=True, editable=False,
        help_text="SHA-256 of the registered plan's document (registration.plan_document), as exported.",
    )

    class Meta:
        ordering = ["study", "version"]
        constraints = [
            models.UniqueConstraint(fields=["study", "version"], name="analysis_plan_unique_version"),
        ]

    def __str__(self) -> str:
        return f"Analysis plan of {self.study}" + (f", version {self.version}" if self.version > 1 else "")

    def save(self, *args: object, **kwargs: object) -> None:
        """A registered plan stays as registered."""
        if self.pk is not None:
            stored = AnalysisPlan.objects.filter(pk=self.pk).values_list("registered_at", flat=True).first()
            if stored is not None:
                raise ValidationError(f"This plan was registered on {stored.isoformat()} and cannot change.")
        if not self.primary_outcomes and self.study_id is not None:
            self.primary_outcomes = study_constructs(self.study_id)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        if self.version > 1 and not self.deviation.strip():
            errors["deviation"] = ("Say why the registered plan is changed: the report shows this version as "
                                   "a deviation from it, with your reason.")
        constructs = study_constructs(self.study_id) if self.study_id is not None else None
        problem = outcome_problem(self.primary_outcomes, constructs)
        if problem:
            errors["primary_outcomes"] = problem
        if self.pairwise not in self.PAIRWISE_FOR[self.primary_test]:
            allowed = ", ".join(self.Pairwise(p).label for p in self.PAIRWISE_FOR[self.primary_test])
            errors["pairwise"] = f"With {self.Test(self.primary_test).label}: {allowed}."
        widest = self._widest_scale()
        if not 0 < self.equivalence_margin < widest - 1:
            errors["equivalence_margin"] = (f"Between 0 and {widest - 1} scale points (the study's widest "
                                            f"scale has {widest} points).")
        if not 0 < self.alpha < 0.5:
            errors["alpha"] = "Between 0 and 0.5."
        if self.speeder_seconds < 0:
            errors["speeder_seconds"] = "Zero or more."
        if self.left_page_seconds < 0:
            errors["left_page_seconds"] = "Zero or more."
        if errors:
            raise ValidationError(errors)

    def _widest_scale(self) -> int:
        """The most points of the study's per-trial items (7 where the study is not known yet)."""
        if self.study_id is None:
            return 7
        points = Item.objects.filter(study_id=self.study_id, scope=Item.Scope.TRIAL).values_list(
            "scale_points", flat=True)
        return max(points, default=5)

    @property
    def preregistered(self) -> bool:
        """Registered before any real participant arrived."""
        return self.registered_at is not None and not self.registered_after_participants
