"""The analysis plan as plain data (the report knows nothing of Django): the confirmatory test,
its outcomes and pairwise procedure, the exclusion rules, the equivalence margin."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from .options import Options

TEST_NAMES = {
    "ordinal_mixed": "the cumulative link mixed model (random intercepts for participants and stimuli), its "
                     "condition effect tested by permuting conditions over participants",
    "kruskal": "the Kruskal-Wallis test on participants' scores",
    "welch": "Welch's ANOVA on participants' scores",
}
PAIRWISE_NAMES = {
    "model": "the model's pairwise contrasts (odds ratios; permutation p-values for the mixed model, Wald z "
             "for the cluster-robust one)",
    "dunn": "Dunn's tests (Holm)",
    "mann_whitney": "Mann-Whitney U tests (Holm)",
    "games_howell": "Games-Howell comparisons",
}

#: What each planned test runs as in a within-participants study (see build.planned_result).
WITHIN_TEST_NAMES = {
    "ordinal_mixed": "the cumulative link mixed model (random intercepts for participants and stimuli; "
                     "condition within participants), its condition effect tested by permuting each "
                     "participant's conditions",
    "kruskal": "Friedman's test on participants' scores per condition (the plan's Kruskal-Wallis test, "
               "within participants)",
    "welch": "Friedman's test on participants' scores per condition (the plan's Welch's ANOVA has no "
             "within-participants counterpart here)",
}
WITHIN_PAIRWISE_NAMES = {
    "model": PAIRWISE_NAMES["model"],
    **{key: f"Wilcoxon signed-rank tests, in place of the plan's {name}"
       for key, name in PAIRWISE_NAMES.items() if key != "model"},
}

#: The test of a verification or simulation study's judgements, fixed by the platform (see the report's
#: behaviour section); the plan's alpha applies.
TASK_TEST = ("the mixed logistic regression of correctness on condition with crossed random intercepts for "
             "participants and stimuli (likelihood-ratio and Wald tests of condition; odds ratios)")

#: The paper's constructs: the primary outcomes of plain data without a plan (analysis.data gives a
#: study without a plan its own constructs).
PRIMARY_DEFAULT = ("predictability", "understandability", "faithfulness", "cognitive_load")


@dataclass(frozen=True)
class PlanData:
    primary_outcomes: tuple[str, ...] = PRIMARY_DEFAULT
    primary_test: str = "ordinal_mixed"
    pairwise: str = "model"
    options: Options = field(default_factory=Options)
    equivalence_margin: float = 0.5
    alpha: float = 0.05
    notes: str = ""
    registered_at: str | None = None  # ISO time stamp; None: not registered (the defaults, or a draft)
    registration: str = ""  # when it was registered, in words, with what data had come in by then
    registered_after_participants: int | None = None  # real participants arrived at registration
    registered_after_answers: int | None = None
    first_participant_at: str | None = None
    sha256: str = ""  # of the registered plan's document
    version: int = 1  # a later version changes a registered one: a deviation
    deviation: str = ""  # why (version 2 on)
    deviations: tuple[dict, ...] = ()  # earlier registered versions it departs from (registration.deviations)
    exists: bool = False  # whether the study has a plan at all
    task: str = "rating"  # the study's trial task: verification and simulation add their own test

    @property
    def name(self) -> str:
        """Which plan this is, in words: the study's (registered or draft) or the platform's defaults."""
        if not self.exists:
            return "the platform's default analysis plan (the study has none)"
        return f"the study's {'registered' if self.registered_at else 'draft'} analysis plan"

    def summary(self) -> dict:
        return {
            "exists": self.exists,
            "registered_at": self.registered_at,
            "preregistered": self.preregistered,
            "registered_after_participants": self.registered_after_participants,
            "registered_after_answers": self.registered_after_answers,
            "first_participant_at": self.first_participant_at,
            "sha256": self.sha256,
            "version": self.version,
            "deviation": self.deviation,
            "deviates_from": list(self.deviations),
            "primary_outcomes": list(self.primary_outcomes),
            "primary_test": self.primary_test,
            "pairwise": self.pairwise,
            "exclusions": asdict(self.options),
            "equivalence_margin": self.equivalence_margin,
            "alpha": self.alpha,
            "notes": self.notes,
            "task": self.task,
            "task_test": TASK_TEST if self.task != "rating" else None,
            "words": self.words(),
        }

    @property
    def preregistered(self) -> bool:
        """Registered before any real participant arrived."""
        return self.registered_at is not None and not self.registered_after_participants

    def words(self) -> str:
        draft = "the study's draft plan." if self.exists else "the platform's defaults."
        status = self.registration if self.registered_at else f"Not registered: {draft}"
        for old in self.deviations:
            status += (f" Version {self.version} deviates from version {old['version']}, registered "
                       f"{old['registered_at']}: {'; '.join(old['changes']) or 'nothing changed'} "
                       f"({'; '.join(old['reasons'])}).")
        return (
            f"{status} Primary outcomes: {', '.join(self.primary_outcomes)} (Holm across them, and across "
            f"all their pairwise comparisons); the composite is its own family. Test: "
            f"{TEST_NAMES[self.primary_test]}; pairwise: "
            f"{PAIRWISE_NAMES[self.pairwise]}. Equivalence margin: \u00b1{self.equivalence_margin:g} scale "
            f"points (two one-sided tests); \u03b1 = {self.alpha:g}."
            + (f" The {self.task} task's test: {TASK_TEST}." if self.task != "rating" else "")
        )
