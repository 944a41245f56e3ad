"""The power and sample-size planner: the simulated power of a study's planned primary test for a
design the researcher chooses, starting from the study as set up and its plan in force. Called by the
planner page (``/analysis/<slug>/power/``) and ``manage.py plan_power``; the simulation itself is
``analysis.simulation``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from studyapp.models import Item, Stimulus, Study

from .registration import in_force
from .report.plan import PRIMARY_DEFAULT, TEST_NAMES, WITHIN_TEST_NAMES
from .simulation import MAX_SIMULATIONS, Design, power

#: The page simulates while the researcher waits: at most this many participant-studies per request
#: (200 studies of 4 x 50 participants, about 20 s on the 2-core development machine); beyond, the
#: command line.
PAGE_BUDGET = 40_000
PAGE_SIMULATIONS = 200
COMMAND_SIMULATIONS = 1000
#: What a researcher may set, with its type; the rest of ``Design`` (the scale's cut points) is fixed.
SETTINGS = {"conditions": int, "per_condition": int, "stimuli": int, "trials": int, "items": int,
            "participant_sd": float, "stimulus_sd": float, "effect": float}


@dataclass(frozen=True)
class Planned:
    """A study's planned primary test and family, as the power simulation needs them."""

    test: str
    alpha: float
    outcomes: int

    def test_name(self, within: bool) -> str:
        return (WITHIN_TEST_NAMES if within else TEST_NAMES)[self.test]


def defaults(study: Study) -> tuple[Design, Planned]:
    """The design as the study is set up (conditions, target per condition, stimuli, trials per
    participant, items per primary construct, between or within) with the plan's test, alpha and number
    of primary outcomes, and an assumed effect of +0.5 logit, participant SD 1 and stimulus SD 0.5."""
    plan = in_force(study)
    primary = list(plan.primary_outcomes) if plan else list(PRIMARY_DEFAULT)
    counts = [Item.objects.filter(study=study, scope="trial", construct=c).count() for c in primary]
    items = min([n for n in counts if n] or [2])
    design = Design(
        conditions=max(study.conditions.count(), 2), per_condition=study.target_per_condition,
        stimuli=max(Stimulus.objects.filter(study=study).count(), study.trials_per_participant),
        trials=study.trials_per_participant, items=items, effect=0.5, within=study.design == "within",
    )
    return design, Planned(plan.primary_test if plan else "ordinal_mixed", plan.alpha if plan else 0.05,
                           len(primary))


def parse(values: Mapping[str, str], design: Design) -> tuple[Design, list[str]]:
    """``design`` with the researcher's settings (strings, as a form or the command line gives them),
    and what is wrong with them in words (nothing simulated then)."""
    changes, errors = {}, []
    for name, kind in SETTINGS.items():
        raw = values.get(name)
        if raw in (None, ""):
            continue
        try:
            value = kind(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            errors.append(f"{name.replace('_', ' ')}: {raw!r} is not {what}")
            continue
        if kind is float and not math.isfinite(value):
            errors.append(f"{name.replace('_', ' ')}: must be finite")
            continue
        changes[name] = value
    design = replace(design, **changes)
    errors += [f"the design needs {problem}" for problem in design.problems()]
    return design, errors


def simulations_from(raw: str | None, default: int, budget: int | None,
                     design: Design) -> tuple[int, list[str]]:
    """The number of simulated studies asked for, within 1..MAX_SIMULATIONS and, on the page, the
    budget of participant-studies."""
    if raw in (None, ""):
        count = default
    elif not str(raw).isdigit() or not 1 <= int(raw) <= MAX_SIMULATIONS:
        return 0, [f"simulations: a whole number from 1 to {MAX_SIMULATIONS:,}"]
    else:
        count = int(raw)
    if budget is not None and count * design.participants > budget:
        most = max(budget // design.participants, 0)
        return 0, [f"{count:,} simulations of {design.participants:,} participants are more than this page "
                   f"runs while you wait (at most {most:,} at this size); use the command line: "
                   f"python manage.py plan_power <slug> --simulations {count}"]
    return count, []


def run(design: Design, planned: Planned, simulations: int, seed: int = 1) -> dict:
    """The power of the planned test at ``design`` with its interval, and the sentence to report."""
    result = power(design, planned.test, simulations, outcomes=planned.outcomes, alpha=planned.alpha,
                   seed=seed)
    rate = result["power"]
    layout = (f"{design.per_condition} participants each reading every one of {design.conditions} conditions"
              if design.within else f"{design.conditions} conditions x {design.per_condition} participants")
    result["words"] = (
        f"With {layout}, {design.trials} of {design.stimuli} stimuli each and {design.items} items per trial "
        f"(participant SD {design.participant_sd:g}, stimulus SD {design.stimulus_sd:g} on the logit scale), "
        f"{planned.test_name(design.within)}, Holm across {planned.outcomes} primary outcome"
        f"{'s' if planned.outcomes != 1 else ''} at \u03b1 = {planned.alpha:g}, detects an effect of "
        f"{design.effect:+g} logit (the last condition against the others, on one outcome) in "
        f"{100 * rate['rate']:.1f}% of {simulations:,} simulated studies (95% CI {100 * rate['ci_low']:.1f}"
        f"\u2013{100 * rate['ci_high']:.1f}%; seed {seed})."
    )
    result["test_name"] = planned.test_name(design.within)
    return result
