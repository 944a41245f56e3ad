"""Which finished participants are analysed: the exclusion rules, from the analysis plan or the page."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

#: The seed of every resampling in the report (bootstraps, permutations, exact tests' simulations).
SEED = 20250519


@dataclass(frozen=True)
class Options:
    attention: bool = True
    speeders: bool = True
    speeder_seconds: float = 10.0
    straightlining: bool = True
    straightline_scope: str = "all"  # "all": one value on every per-trial item; "trial": in any trial
    # the paradata rules, off by default (each left off is a sensitivity analysis: PARADATA_RULES)
    left_page: bool = False
    left_page_seconds: float = 30.0
    pasted: bool = False
    copied: bool = False
    automated: bool = False

    @classmethod
    def from_query(cls, query, default: Options | None = None) -> Options:
        """From request.GET-like mappings (attention=0, speeders=0, speeder_seconds=8, ...); what the
        query leaves out comes from ``default`` (the analysis plan's rules)."""
        base = default or cls()

        def flag(name: str, value: bool) -> bool:
            given = query.get(name)
            return value if given is None else given.lower() not in ("0", "false", "no", "off")

        def seconds(name: str) -> float:
            try:
                return speeder_seconds(query.get(name, getattr(base, name)))
            except ValueError:
                return getattr(base, name)

        scope = query.get("straightline_scope", base.straightline_scope)
        return cls(
            attention=flag("attention", base.attention),
            speeders=flag("speeders", base.speeders),
            speeder_seconds=seconds("speeder_seconds"),
            straightlining=flag("straightlining", base.straightlining),
            straightline_scope=scope if scope in ("all", "trial") else base.straightline_scope,
            left_page=flag("left_page", base.left_page),
            left_page_seconds=seconds("left_page_seconds"),
            pasted=flag("pasted", base.pasted),
            copied=flag("copied", base.copied),
            automated=flag("automated", base.automated),
        )


#: The paradata rules: an Options field each, off by default.
PARADATA_RULES = ("left_page", "pasted", "copied", "automated")


def speeder_seconds(text: str | float) -> float:
    """A threshold in seconds (the speeders', the time away's): a finite number, zero or more, else
    ValueError in words; one check for the page's query and the analyze command (nan or -5 would flag no
    one, inf everyone)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"the speeder threshold must be a number of seconds, zero or more, not {text!r}")
    return value


def criteria(options: Options) -> list[tuple[str, str, bool]]:
    """(key, label, applied) of each exclusion criterion."""
    from .words import num

    scope = "of a trial" if options.straightline_scope == "trial" else "of all trials"
    return [
        ("attention", "Failed as many attention checks as the study allows", options.attention),
        ("speeders", f"Median trial page time under {num(options.speeder_seconds, 1)} s", options.speeders),
        ("straightlining", f"Same value on every per-trial item {scope}", options.straightlining),
        ("left_page", f"Away from the pages {num(options.left_page_seconds, 1)} s or more in all (paradata)",
         options.left_page),
        ("pasted", "Pasted on a page (paradata)", options.pasted),
        ("copied", "Copied from a problem or a reasoning text (paradata)", options.copied),
        ("automated", "The browser showed a sign of automation (paradata)", options.automated),
    ]


def flags(person, trial_items: set[str], options: Options) -> dict[str, bool]:
    """Which criteria flag a participant (whether or not they are applied)."""
    trial_answers = {k: v for k, v in person.answers.items() if k[0] is not None and k[1] in trial_items}
    if options.straightline_scope == "trial":
        by_trial: dict = {}
        for (stimulus, _code), value in trial_answers.items():
            by_trial.setdefault(stimulus, []).append(value)
        straight = any(len(v) > 1 and len(set(v)) == 1 for v in by_trial.values())
    else:
        values = list(trial_answers.values())
        straight = len(values) > 1 and len(set(values)) == 1
    seconds = person.trial_seconds
    return {
        "attention": person.attention_passed is False,
        "speeders": bool(seconds) and statistics.median(seconds) < options.speeder_seconds,
        "straightlining": straight,
        "left_page": person.away_ms is not None and person.away_ms >= 1000 * options.left_page_seconds,
        "pasted": bool(person.pastes),
        "copied": bool(person.copies),
        "automated": bool(person.automated),
    }


def exclude(participants: list, items: list, codes: list[str], options: Options) -> tuple[dict, list]:
    """Who of the finished participants is analysed under the exclusion rules ``options``: the counts
    per condition (finished, flagged by each criterion, excluded, analysed) and the participants kept.
    The report's first step, and all the study monitor runs of it."""
    trial_items = {i.code for i in items if i.scope == "trial"}
    rules = criteria(options)
    flagged = {key: dict.fromkeys(codes, 0) for key, _, _ in rules}
    excluded, finished = dict.fromkeys(codes, 0), dict.fromkeys(codes, 0)
    kept = []
    for person in participants:
        if person.condition not in finished:
            continue
        finished[person.condition] += 1
        found = flags(person, trial_items, options)
        for key in found:
            flagged[key][person.condition] += found[key]
        if any(found[key] and applied for key, _, applied in rules):
            excluded[person.condition] += 1
        else:
            kept.append(person)
    analysed = {c: finished[c] - excluded[c] for c in codes}
    exclusions = {
        "criteria": [
            {"key": key, "label": label, "enabled": applied, "flagged": flagged[key],
             "flagged_total": sum(flagged[key].values())}
            for key, label, applied in rules
        ],
        "finished": finished, "excluded": excluded, "analysed": analysed,
        "excluded_total": sum(excluded.values()), "analysed_total": sum(analysed.values()),
    }
    return exclusions, kept
