"""Simulated studies of a design, analysed by the report's own tests: the planned primary test's
false-positive rate (its calibration) and its power, for the power and sample-size planner (the plan
page, ``manage.py plan_power``) and ``bench/calibration.py``. Pure: no Django.

A simulated answer is a cumulative-logit draw, as the report's mixed model assumes: participant p, in
condition c, answering on stimulus s crosses the latent value η = u_p + v_s + β_c + logistic noise
through fixed cut points, with u ~ N(0, participant_sd²) and v ~ N(0, stimulus_sd²); every answer of a
trial (its items) is a fresh draw. The effect is β of the last condition (the others 0), in logits.

The family is the plan's primary outcomes, simulated independently; the effect is on the first, and the
others are null. As the permutation test is exact, a null outcome's p-value under it is uniform (on the
permutations' grid), so ``power`` draws those p-values instead of simulating their studies (the other
tests' are simulated); the calibration simulates every outcome (``family_null``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
from scipy import stats as sps

from . import stats as st
from .report.outcome import model_inputs, score_permutation
from .report.scores import Outcome

#: The cut points of a 5-point scale on the latent logit scale (answers about 12/19/37/19/12% at
#: η = 0): the default of a planned study.
CUTS_5 = (-2.0, -0.7, 0.7, 2.0)
#: The planned tests a design can be simulated with, and the asymptotic Wald test of the mixed model,
#: which the report used as its primary test until its calibration was measured (kept to compare).
TESTS = ("ordinal_mixed", "kruskal", "welch", "wald")
MAX_SIMULATIONS = 10_000


@dataclass(frozen=True)
class Design:
    """A study design with assumed variance components and effect (see the module docstring)."""

    conditions: int = 4
    per_condition: int = 25  # between participants: per condition; within: the participants
    stimuli: int = 5  # in the study
    trials: int = 5  # per participant: how many of the stimuli each reads (all when equal)
    items: int = 2  # answers per trial on the outcome
    participant_sd: float = 1.0
    stimulus_sd: float = 0.5
    effect: float = 0.0  # logits, the last condition against the others
    within: bool = False
    cuts: tuple[float, ...] = field(default=CUTS_5)

    def problems(self) -> list[str]:
        """What makes the design impossible to simulate, in words (empty when it can be)."""
        out = []
        if self.conditions < 2:
            out.append("at least two conditions")
        if self.per_condition < 2:
            out.append("at least two participants per condition")
        if not 1 <= self.trials <= self.stimuli:
            out.append("between 1 trial and as many trials as stimuli per participant")
        if self.within and self.trials < self.conditions:
            out.append("within participants, at least one trial per condition")
        if self.items < 1:
            out.append("at least one item per trial")
        if self.participant_sd < 0 or self.stimulus_sd < 0:
            out.append("standard deviations of zero or more")
        if not all(math.isfinite(x) for x in (self.participant_sd, self.stimulus_sd, self.effect)):
            out.append("finite standard deviations and effect")
        if list(self.cuts) != sorted(self.cuts) or len(self.cuts) < 1:
            out.append("increasing cut points")
        return out

    @property
    def participants(self) -> int:
        return self.per_condition if self.within else self.conditions * self.per_condition

    def codes(self) -> list[str]:
        return [f"c{k + 1}" for k in range(self.conditions)]


def simulate(design: Design, rng: np.random.Generator, effect: float | None = None) -> Outcome:
    """One simulated outcome of the design, as the report's scores give it (``scores.Outcome``).
    Between participants, participant p is in condition p mod k; within, participant p's t-th trial is
    in condition (p + t) mod k (a rotation, as a Latin square). Each reads ``trials`` stimuli drawn
    without replacement."""
    effect = design.effect if effect is None else effect
    k, codes = design.conditions, design.codes()
    beta = np.zeros(k)
    beta[-1] = effect
    person_effect = rng.normal(0, design.participant_sd, design.participants)
    stimulus_effect = rng.normal(0, design.stimulus_sd, design.stimuli)
    outcome = Outcome("simulated", "Simulated outcome", [f"i{j + 1}" for j in range(design.items)],
                      {c: [] for c in codes}, {c: [] for c in codes}, counts={c: [0] * (len(design.cuts) + 1)
                                                                            for c in codes},
                      points=len(design.cuts) + 1)
    for person in range(design.participants):
        seen = rng.choice(design.stimuli, design.trials, replace=False)
        conditions = ([(person + t) % k for t in range(design.trials)] if design.within
                      else [person % k] * design.trials)
        latent = (person_effect[person] + stimulus_effect[seen] + beta[conditions])[:, None]
        answers = 1 + np.searchsorted(design.cuts, latent + rng.logistic(size=(design.trials, design.items)))
        per: dict[str, list[int]] = {}
        for stimulus, condition, row in zip(seen, conditions, answers, strict=True):
            code = codes[condition]
            per.setdefault(code, []).extend(int(v) for v in row)
            outcome.rows += [(code, person, int(stimulus), int(v)) for v in row]
            for v in row:
                outcome.counts[code][v - 1] += 1
        for code, values in per.items():
            outcome.scores[code].append(sum(values) / len(values))
            outcome.answers[code].append(values)
            outcome.by_person.setdefault(person, {})[code] = sum(values) / len(values)
    return outcome


def planned_p(outcome: Outcome, codes: list[str], test: str, within: bool, seed: int) -> float | None:
    """The p-value of the planned test of condition on one outcome, as the report computes it (the
    mixed model's permutation test; Kruskal-Wallis or Welch's ANOVA, within participants Friedman's
    test; or, to compare, the mixed model's asymptotic Wald test)."""
    if test == "ordinal_mixed" or test == "wald":
        inputs = model_inputs(outcome, codes)
        if isinstance(inputs, str):
            return None
        present, y, condition, factors, _people = inputs
        if test == "ordinal_mixed":
            return score_permutation(y, condition, factors, present, within, seed, pairs=False)["p"]
        fit = st.clmm(y, np.eye(len(present))[condition][:, 1:], factors)
        if fit["coefficient_cov"] is None:
            return None
        beta = np.asarray(fit["coefficients"])
        return float(sps.chi2.sf(beta @ np.linalg.solve(fit["coefficient_cov"], beta), len(present) - 1))
    if within:
        complete = [p for p, by in outcome.by_person.items() if all(c in by for c in codes)]
        return st.friedman({c: [outcome.by_person[p][c] for p in complete] for c in codes})["p"]
    if test == "kruskal":
        return st.kruskal_wallis(outcome.scores)["p"]
    if test == "welch":
        return st.welch_anova(outcome.scores)["p"]
    raise ValueError(f"unknown test {test!r}; one of {', '.join(TESTS)}")


def _holm_rejects(pvalues: list[float | None], alpha: float) -> list[bool]:
    return [p is not None and p < alpha for p in st.holm(pvalues)]


def family_null(design: Design, test: str, simulations: int, *, outcomes: int = 4, alpha: float = 0.05,
                seed: int = 0) -> dict:
    """Null studies (no effect on any outcome), every outcome simulated and tested: how often each
    outcome's test rejects at ``alpha`` (the per-outcome false-positive rate, over simulations x
    outcomes) and how often the family's decision (Holm across the outcomes) rejects any (the
    family-wise rate), each with its Wilson 95% interval."""
    rng = np.random.default_rng(seed)
    codes, rejected, familywise, failed = design.codes(), 0, 0, 0
    null = replace(design, effect=0.0)
    for sim in range(simulations):
        ps = [planned_p(simulate(null, rng), codes, test, design.within, seed + 7919 * sim + o)
              for o in range(outcomes)]
        failed += sum(p is None for p in ps)
        rejected += sum(p is not None and p < alpha for p in ps)
        familywise += any(_holm_rejects(ps, alpha))
    return {"test": test, "simulations": simulations, "outcomes": outcomes, "alpha": alpha, "seed": seed,
            "design": asdict(null), "not_computed": failed,
            "per_outcome": _rate(rejected, simulations * outcomes),
            "familywise": _rate(familywise, simulations)}


def power(design: Design, test: str, simulations: int, *, outcomes: int = 4, alpha: float = 0.05,
          seed: int = 0) -> dict:
    """The probability that the plan's family-wise decision (Holm across ``outcomes`` primary outcomes
    at ``alpha``) rejects the null on an outcome with the design's effect, the others null; with its
    Wilson 95% interval over ``simulations`` studies. Also the outcome's own rate at ``alpha``."""
    # the outcome with the effect from one stream, the null ones from another: every test sees the same
    # studies with the effect
    rng, others_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    codes, family, alone, failed = design.codes(), 0, 0, 0
    grid = st.PERMUTATIONS + 1
    for sim in range(simulations):
        p = planned_p(simulate(design, rng), codes, test, design.within, seed + 7919 * sim)
        failed += p is None
        if test == "ordinal_mixed":  # exact: a null outcome's p is uniform on the permutations' grid
            others = list((others_rng.integers(0, grid, outcomes - 1) + 1) / grid)
        else:  # the approximate tests' null outcomes are simulated and tested
            others = [planned_p(simulate(design, others_rng, effect=0.0), codes, test, design.within,
                                seed + 7919 * sim + o) for o in range(1, outcomes)]
        alone += p is not None and p < alpha
        family += _holm_rejects([p, *others], alpha)[0]
    return {"test": test, "simulations": simulations, "outcomes": outcomes, "alpha": alpha, "seed": seed,
            "design": asdict(design), "not_computed": failed,
            "power": _rate(family, simulations), "power_alone": _rate(alone, simulations)}


def independent_answers_po_check(answers: dict[str, list[list[int]]]) -> float:
    """The proportional-odds check the report used before, kept to compare (tests, bench): the
    likelihood-ratio test against a separate answer distribution per condition, every answer taken as
    independent ((g - 1)(K - 2) df), whose false-positive rate clustering inflates."""
    values = [np.concatenate([np.asarray(a, dtype=int) for a in people]) for people in answers.values()]
    top = int(max(v.max() for v in values))
    table = np.array([np.bincount(v - 1, minlength=top) for v in values], dtype=float)
    table = table[:, table.sum(axis=0) > 0]
    group, category = np.nonzero(table)
    fit = st.cumulative_logit(np.eye(len(table))[group][:, 1:], category, table[group, category])
    with np.errstate(divide="ignore", invalid="ignore"):
        saturated = float(np.nansum(table * np.log(table / table.sum(axis=1, keepdims=True))))
    df = (len(table) - 1) * (table.shape[1] - 2)
    return float(sps.chi2.sf(2 * (saturated - fit["loglik"]), df))


def po_check_null(design: Design, simulations: int, *, seed: int = 0) -> dict:
    """Null outcomes (proportional odds holds exactly): how often the report's cluster-aware check and
    the independent-answers check reject at .05, on the same data."""
    rng = np.random.default_rng(seed)
    null = replace(design, effect=0.0)
    clustered = independent = 0
    for _ in range(simulations):
        answers = simulate(null, rng).answers
        clustered += st.proportional_odds(answers)["po_test"]["p"] < 0.05
        independent += independent_answers_po_check(answers) < 0.05
    return {"simulations": simulations, "seed": seed, "design": asdict(null),
            "clustered": _rate(clustered, simulations), "independent": _rate(independent, simulations)}


def _rate(k: int, n: int) -> dict:
    interval = st.wilson(k, n)
    return {"count": k, "n": n, "rate": k / n if n else None,
            "ci_low": interval["low"], "ci_high": interval["high"]}
