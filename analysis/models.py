"""A study's analysis plan, set before data come in: the report runs it first and calls everything
else a sensitivity analysis."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

OUTCOMES = ("predictability", "understandability", "faithfulness", "cognitive_load")


def default_outcomes() -> list[str]:
    return list(OUTCOMES)


class AnalysisPlan(models.Model):
    """What the confirmatory analysis is. Registered (time-stamped) before the study opens; a
    registered plan cannot change: the report lists any other choice as a deviation."""

    class Test(models.TextChoices):
        ORDINAL_MIXED = "ordinal_mixed", "Ordinal mixed model (participants and stimuli random)"
        KRUSKAL = "kruskal", "Kruskal-Wallis on participants' scores"
        WELCH = "welch", "Welch's ANOVA on participants' scores"

    class Pairwise(models.TextChoices):
        MODEL = "model", "Contrasts of the ordinal mixed model (Wald z, Holm)"
        DUNN = "dunn", "Dunn's tests (Holm)"
        MANN_WHITNEY = "mann_whitney", "Mann-Whitney U tests (Holm)"
        GAMES_HOWELL = "games_howell", "Games-Howell"

    PAIRWISE_FOR = {
        Test.ORDINAL_MIXED: {Pairwise.MODEL},
        Test.KRUSKAL: {Pairwise.DUNN, Pairwise.MANN_WHITNEY},
        Test.WELCH: {Pairwise.GAMES_HOWELL},
    }

    study = models.OneToOneField("studyapp.Study", on_delete=models.CASCADE, related_name="analysis_plan")
    primary_outcomes = models.JSONField(
        default=default_outcomes,
        help_text="The constructs tested as the primary family (Holm across them): any of "
        + ", ".join(OUTCOMES) + ". The composite (interpretability) is always its own family.",
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
    equivalence_margin = models.FloatField(
        default=0.5,
        help_text="Smallest difference of interest, in scale points (1-5) of a construct score: pairs "
        "whose difference lies inside ±this are tested as equivalent (two one-sided tests).",
    )
    alpha = models.FloatField(default=0.05)
    notes = models.TextField(blank=True, help_text="Hypotheses, predictions, anything else registered.")
    registered_at = models.DateTimeField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return f"Analysis plan of {self.study}"

    def save(self, *args: object, **kwargs: object) -> None:
        """A registered plan stays as registered."""
        if self.pk is not None:
            stored = AnalysisPlan.objects.filter(pk=self.pk).values_list("registered_at", flat=True).first()
            if stored is not None:
                raise ValidationError(f"This plan was registered on {stored.isoformat()} and cannot change.")
        super().save(*args, **kwargs)

    def clean(self) -> None:
        errors = {}
        outcomes = self.primary_outcomes
        if not isinstance(outcomes, list) or not outcomes or any(o not in OUTCOMES for o in outcomes):
            errors["primary_outcomes"] = f"A non-empty list drawn from {', '.join(OUTCOMES)}."
        if self.pairwise not in self.PAIRWISE_FOR[self.primary_test]:
            allowed = ", ".join(self.Pairwise(p).label for p in self.PAIRWISE_FOR[self.primary_test])
            errors["pairwise"] = f"With {self.Test(self.primary_test).label}: {allowed}."
        if not 0 < self.equivalence_margin < 4:
            errors["equivalence_margin"] = "Between 0 and 4 scale points."
        if not 0 < self.alpha < 0.5:
            errors["alpha"] = "Between 0 and 0.5."
        if self.speeder_seconds < 0:
            errors["speeder_seconds"] = "Zero or more."
        if errors:
            raise ValidationError(errors)

    def register(self) -> None:
        """Time-stamp the plan as it is now; from here on it cannot change."""
        self.full_clean()
        if self.registered_at is not None:
            raise ValidationError("Already registered.")
        super().save()  # the last save before the stamp
        AnalysisPlan.objects.filter(pk=self.pk).update(registered_at=timezone.now())
        self.refresh_from_db(fields=["registered_at"])
