"""Statistics of the behavioural tasks, whose answers are right or wrong: accuracy with its Wilson
interval, signal detection for verification, calibration of confidence, response times, and the
correlation of what participants say (their ratings) with what they do (their accuracy).

Trials come as aligned plain sequences, one entry per trial. statsmodels gives the Wilson interval
and the t interval of a mean, scipy the normal quantiles and the correlations.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from .common import is_constant, scalar

LEVEL = 0.95
CONFIDENCE_POINTS = 5  # the confidence scale runs 1..5
_Z = NormalDist()


def wilson(k: int, n: int, level: float = LEVEL) -> dict:
    """A proportion k/n with its Wilson score interval (Wilson 1927; Newcombe 1998, method 3), as
    statsmodels' ``proportion_confint(method="wilson")`` and R's ``prop.test(correct = FALSE)``: unlike
    the Wald interval it stays inside [0, 1] and keeps near its level for proportions near 0 or 1,
    which accuracies of easy tasks are."""
    from statsmodels.stats.proportion import proportion_confint
    out = {"k": int(k), "n": int(n), "proportion": None, "low": None, "high": None, "reason": None}
    if n <= 0:
        out["reason"] = "no trials"
        return out
    low, high = proportion_confint(k, n, alpha=1 - level, method="wilson")
    out.update(proportion=k / n, low=scalar(low), high=scalar(high))
    return out


def accuracy(correct: Sequence[bool]) -> dict:
    """The share of trials answered correctly with its Wilson interval.

    The interval treats the trials as independent; a participant's trials are not (some people are
    better than others), so it is too narrow when a few participants give many trials each. The mixed
    logistic model (``glmm.mixed_logistic``) takes that into account; this is the descriptive figure."""
    x = np.asarray(correct, dtype=bool)
    w = wilson(int(x.sum()), len(x))
    return {"n_trials": len(x), "n_correct": w["k"], "accuracy": w["proportion"],
            "accuracy_ci": None if w["low"] is None else [w["low"], w["high"]], "reason": w["reason"]}


def _loglinear(k: int, n: int) -> float:
    """The log-linear rate (k + 0.5) / (n + 1) (Hautus 1995), finite in z for 0 and n alike."""
    return (k + 0.5) / (n + 1)


def _sdt(hits: int, signal: int, false_alarms: int, noise: int) -> tuple[float, float]:
    """d' = z(H) - z(F) and c = -(z(H) + z(F)) / 2 (Stanislaw & Todorov 1999, eqs. 1 and 7) of the
    log-linear rates: a participant with every right answer accepted would otherwise have z(1) = ∞."""
    zh, zf = _Z.inv_cdf(_loglinear(hits, signal)), _Z.inv_cdf(_loglinear(false_alarms, noise))
    return zh - zf, -(zh + zf) / 2


def signal_detection(said_yes: Sequence[bool], answer_correct: Sequence[bool],
                     participant: Sequence[object]) -> dict:
    """Signal detection for verification ("Is the model's answer correct?"): a right model answer is
    the signal, "yes" the response; a hit is "yes" to a right answer, a false alarm "yes" to a wrong one.

    ``hit_rate`` and ``false_alarm_rate`` are the plain shares over all trials (hits / right answers
    shown, false alarms / wrong answers shown). ``d_prime`` (sensitivity: how well people tell right
    from wrong answers, 0 = not at all) and ``criterion`` (c: bias, positive = inclined to say "no",
    negative = to accept) are computed per participant with the log-linear correction (Hautus 1995: add
    0.5 to hits and false alarms and 1 to the numbers of right and wrong answers shown) and averaged
    over participants, with a t interval of that mean (``d_prime_ci``, ``criterion_ci``), as is usual in
    psychology (Macmillan & Creelman 2005): d' from trials pooled over participants who differ in
    criterion underestimates their sensitivity. That pooled figure is given too (``d_prime_pooled``,
    ``criterion_pooled``). Participants shown only right or only wrong answers have no d' and are left
    out of the mean (counted in ``n_participants_left_out``)."""
    yes = np.asarray(said_yes, dtype=bool)
    right = np.asarray(answer_correct, dtype=bool)
    who = np.asarray(participant, dtype=object)
    if not len(yes) == len(right) == len(who):
        raise ValueError("said_yes, answer_correct and participant need one entry per trial")
    signal, noise = int(right.sum()), int((~right).sum())
    hits, fas = int((yes & right).sum()), int((yes & ~right).sum())
    out = {
        "hit_rate": hits / signal if signal else None,
        "false_alarm_rate": fas / noise if noise else None,
        "hits": hits, "signal_trials": signal, "false_alarms": fas, "noise_trials": noise,
        "d_prime": None, "d_prime_ci": None, "criterion": None, "criterion_ci": None,
        "d_prime_pooled": None, "criterion_pooled": None,
        "n_participants": 0, "n_participants_left_out": 0, "reason": None,
    }
    if not signal or not noise:
        out["reason"] = "no d': the trials showed only right answers or only wrong ones"
        return out
    out["d_prime_pooled"], out["criterion_pooled"] = _sdt(hits, signal, fas, noise)
    per = []
    for p in dict.fromkeys(who.tolist()):
        mine = who == p
        s, n = int((right & mine).sum()), int((~right & mine).sum())
        if s and n:
            per.append(_sdt(int((yes & right & mine).sum()), s, int((yes & ~right & mine).sum()), n))
    out["n_participants"] = len(per)
    out["n_participants_left_out"] = len(set(who.tolist())) - len(per)
    if not per:
        out["reason"] = "no participant was shown both right and wrong answers"
        return out
    d, c = np.array(per).T
    out["d_prime"], out["criterion"] = float(d.mean()), float(c.mean())
    if len(per) < 2:
        out["reason"] = "one participant: no interval of the mean d'"
    else:
        out["d_prime_ci"], out["criterion_ci"] = (_mean_ci(v) for v in (d, c))
    return out


def _mean_ci(values: np.ndarray) -> list[float]:
    from statsmodels.stats.weightstats import DescrStatsW
    if is_constant(values):
        return [float(values[0])] * 2
    low, high = DescrStatsW(values).tconfint_mean(alpha=1 - LEVEL)
    return [scalar(low), scalar(high)]


def confidence_probability(confidence: ArrayLike, options: ArrayLike) -> np.ndarray:
    """The probability of being right that a confidence answer stands for: the lowest point ("not at
    all confident") is a guess among the options, 1/k, the highest ("completely confident") is 1, and
    the points between are equally spaced: p = 1/k + (c - 1)/4 · (1 - 1/k). Verification has k = 2
    (yes / no: 0.5, 0.625, 0.75, 0.875, 1); simulation k = the candidates shown plus "none of these".

    A choice, not a measurement: the scale's anchors are words, so any map is a convention; this one
    makes "not at all confident" mean chance and uses the whole range, as the two-alternative
    calibration literature does (e.g. Lichtenstein, Fischhoff & Phillips 1982, 0.5-1.0 scales)."""
    c = np.asarray(confidence, dtype=float)
    chance = 1 / np.asarray(options, dtype=float)
    return chance + (c - 1) / (CONFIDENCE_POINTS - 1) * (1 - chance)


def calibration(confidence: Sequence[int], correct: Sequence[bool], options: int | Sequence[int]) -> dict:
    """How well confidence matches accuracy: ``mean_confidence`` (on the 1..5 scale), ``brier`` (the
    mean of (p - correct)², p from ``confidence_probability``: 0 is perfect; answering "not at all
    confident" on every verification trial earns 0.25, whatever the accuracy) and ``overconfidence``
    (mean p minus the share correct: positive = more confident than accurate; the over/underconfidence
    of Lichtenstein et al. 1982)."""
    c = np.asarray(confidence, dtype=float)
    x = np.asarray(correct, dtype=float)
    k = np.broadcast_to(np.asarray(options, dtype=float), c.shape)
    out = {"n_trials": len(c), "mean_confidence": None, "mean_probability": None, "brier": None,
           "overconfidence": None, "reason": None}
    if len(c) != len(x):
        raise ValueError("confidence and correct need one entry per trial")
    if not len(c):
        out["reason"] = "no trials"
        return out
    if np.any((c < 1) | (c > CONFIDENCE_POINTS)) or np.any(k < 2):
        raise ValueError(f"confidence runs 1..{CONFIDENCE_POINTS}; a trial offers at least 2 options")
    p = confidence_probability(c, k)
    out.update(mean_confidence=float(c.mean()), mean_probability=float(p.mean()),
               brier=float(((p - x) ** 2).mean()), overconfidence=float(p.mean() - x.mean()))
    return out


def median_rt(ms: Sequence[float | None]) -> dict:
    """The median response time in milliseconds, missing times (None) left out: times are skewed
    (a few participants pause mid-trial), so the median, not the mean, is the typical trial."""
    x = np.array([v for v in ms if v is not None], dtype=float)
    if not len(x):
        return {"median_rt_ms": None, "n_timed": 0, "reason": "no timed trials"}
    return {"median_rt_ms": float(np.median(x)), "n_timed": len(x), "reason": None}


def correlation(x: Sequence[float], y: Sequence[float], level: float = LEVEL) -> dict:
    """Pearson's r with its Fisher-z interval and p (as R's ``cor.test``), and Spearman's rho with its p
    (scipy's t approximation; R's default for n < 1290 is exact, so its p differs at small n): for
    participants' mean rating against their accuracy, one pair per participant. None with a reason
    under three pairs (the interval needs four) or where either side does not vary."""
    a, b = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if a.shape != b.shape:
        raise ValueError("x and y need one entry per participant")
    out = {"n": len(a), "pearson_r": None, "pearson_ci": None, "pearson_p": None, "spearman_rho": None,
           "spearman_p": None, "reason": None}
    if len(a) < 3:
        out["reason"] = f"{len(a)} participants: a correlation needs at least three"
    elif is_constant(a) or is_constant(b):
        out["reason"] = "no variance: every participant has the same value on one side"
    else:
        r = sps.pearsonr(a, b)
        rho = sps.spearmanr(a, b)
        out.update(pearson_r=scalar(r.statistic), pearson_p=scalar(r.pvalue),
                   spearman_rho=scalar(rho.statistic), spearman_p=scalar(rho.pvalue))
        if len(a) > 3:
            ci = r.confidence_interval(confidence_level=level)
            out["pearson_ci"] = [scalar(ci.low), scalar(ci.high)]
        else:
            out["reason"] = "three participants: no interval (Fisher's z needs four)"
    return out


def behaviour(correct: Sequence[bool], confidence: Sequence[int], rt_ms: Sequence[float | None],
              participant: Sequence[object], options: int | Sequence[int], *,
              said_yes: Sequence[bool] | None = None, answer_correct: Sequence[bool] | None = None) -> dict:
    """The per-condition figures of the report's ``behaviour`` section, for the trials of one
    condition: ``n_participants``, ``n_trials``, ``accuracy``, ``accuracy_ci``, ``median_rt_ms``,
    ``mean_confidence``, ``brier``, ``overconfidence``, and for verification (``said_yes`` and
    ``answer_correct`` given) ``hit_rate``, ``false_alarm_rate``, ``d_prime``, ``criterion`` with their
    intervals and pooled versions (see ``signal_detection``). ``reasons`` collects why any is None."""
    verification = said_yes is not None and answer_correct is not None
    agrees = verification and np.asarray(said_yes, dtype=bool) == np.asarray(answer_correct, dtype=bool)
    if verification and not np.array_equal(np.asarray(correct, dtype=bool), agrees):
        raise ValueError("a verification trial is correct exactly when its yes/no matches the answer's truth")
    acc, cal, rt = accuracy(correct), calibration(confidence, correct, options), median_rt(rt_ms)
    out = {
        "n_participants": len(set(participant)), "n_trials": acc["n_trials"], "accuracy": acc["accuracy"],
        "accuracy_ci": acc["accuracy_ci"], "median_rt_ms": rt["median_rt_ms"],
        "mean_confidence": cal["mean_confidence"], "brier": cal["brier"],
        "overconfidence": cal["overconfidence"],
    }
    reasons = {k: r["reason"] for k, r in (("accuracy", acc), ("calibration", cal), ("median_rt_ms", rt))}
    if verification:
        sdt = signal_detection(said_yes, answer_correct, participant)
        out.update({k: sdt[k] for k in ("hit_rate", "false_alarm_rate", "d_prime", "d_prime_ci", "criterion",
                                        "criterion_ci", "d_prime_pooled", "criterion_pooled")})
        out["n_participants_without_d_prime"] = sdt["n_participants_left_out"]
        reasons["signal_detection"] = sdt["reason"]
    out["reasons"] = {k: v for k, v in reasons.items() if v}
    return out
