"""The report's ``behaviour`` section: what participants did in a verification or simulation task,
per condition, scored against the graded model outputs, and the planned test of condition on it.

Plain data in (one ``Judgement`` per trial), a JSON-ready dict out; the statistics are
``analysis.stats.binary`` and ``analysis.stats.glmm``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from .. import stats as st
from .records import Judgement
from .words import CHI, fmt_p, interval, not_computed, num

#: the rating each task's accuracy is set against, participant by participant: what the participant
#: said of the texts (predictability for predicting the answer, faithfulness for judging it) against
#: what they could do with them
SUBJECTIVE_OF = {"simulation": "predictability", "verification": "faithfulness"}
MODERATORS = ("trace_correct", "answer_correct")


def section(judgements: Sequence[Judgement], codes: Sequence[str],
            ratings: Mapping[tuple[int, str, str], float] | None = None) -> dict:
    """Per condition (in ``codes``' order) the task's figures; the mixed logistic regression of
    correctness on condition with participants and stimuli crossed (``mixed_logistic``, the planned
    test: its odds ratios are the conditions' own); the same model with trace and answer correctness as
    moderators, where the stimuli vary them (``moderation``: does a correct-looking trace make people
    accept a wrong answer? its condition terms are effects where both are 0); and per condition the
    correlation of participants' mean rating of the task's construct with their accuracy (``ratings``:
    (participant, condition, construct) -> the participant's mean rating over their trials in that
    condition, so that within participants each condition pairs a participant's own ratings and accuracy
    in it)."""
    if not judgements:
        return {"task": None, "conditions": [], "mixed_logistic": None, "moderation": None,
                "subjective": None, "reason": "no judgements from the participants analysed yet"}
    task = judgements[0].task
    by_condition: dict[str, list[Judgement]] = defaultdict(list)
    for judgement in judgements:
        by_condition[judgement.condition].append(judgement)
    present = [code for code in codes if by_condition.get(code)]
    conditions = [{"condition": code, **_figures(by_condition[code], task)} for code in present]
    moderators = {name: [None if getattr(j, name) is None else float(getattr(j, name)) for j in judgements]
                  for name in MODERATORS}

    def fit(with_moderators: bool) -> dict:
        return st.mixed_logistic(
            [j.correct for j in judgements], [j.condition for j in judgements],
            {"participant": [j.participant for j in judgements],
             "stimulus": [j.stimulus for j in judgements]},
            conditions=present, moderators=moderators if with_moderators else None,
        )

    model, moderation = fit(False), fit(True)
    return {
        "task": task, "conditions": conditions, "mixed_logistic": worded(model),
        "moderation": worded(moderation) if moderation.get("moderators") else None,
        "subjective": _subjective(by_condition, codes, task, ratings or {}), "reason": None,
    }


def _model_words(model: dict) -> str:
    """The model's tests of condition in APA style: the joint Wald test and the likelihood-ratio test."""
    wald, lr = (model.get("wald") or {}).get("condition"), model.get("lr") or {}
    if not wald or lr.get("chi2") is None:
        return not_computed(model.get("reason") or "the model could not be fitted")
    return (f"Wald {CHI}\u00b2({wald['df']}) = {num(wald['chi2'])}, {fmt_p(wald['p'])}; likelihood ratio "
            f"{CHI}\u00b2({lr['df']}) = {num(lr['chi2'])}, {fmt_p(lr['p'])}")


def worded(model: dict) -> dict:
    """The model with its tests in words, and each odds ratio with its 95% interval in words."""
    ratios = [
        {"term": term, "words": f"OR = {num(r['odds_ratio'])}, {interval(r['low'], r['high'])}"}
        for term, r in (model.get("odds_ratios") or {}).items()
    ]
    return {**model, "words": _model_words(model), "odds_ratio_words": ratios}


def _figures(trials: list[Judgement], task: str) -> dict:
    """One condition's figures (``stats.behaviour``), the response time the server measured, and the
    time to the choice the browser measured (from the trials that have it)."""
    verification = task == "verification"
    figures = st.behaviour(
        [t.correct for t in trials], [t.confidence for t in trials], [t.server_ms for t in trials],
        [t.participant for t in trials], [t.options for t in trials],
        said_yes=[bool(t.said_yes) for t in trials] if verification else None,
        answer_correct=[bool(t.answer_correct) for t in trials] if verification else None,
    )
    choice = st.median_rt([t.choice_ms for t in trials])
    return {**figures, "median_choice_ms": choice["median_rt_ms"]}


def _subjective(by_condition: Mapping[str, list[Judgement]], codes: Sequence[str], task: str,
                ratings: Mapping[tuple[int, str, str], float]) -> dict:
    """Per condition, each participant's mean rating of the task's construct against their accuracy."""
    construct = SUBJECTIVE_OF[task]
    rows = []
    for code in codes:
        trials = by_condition.get(code, [])
        per_person: dict[int, list[bool]] = defaultdict(list)
        for trial in trials:
            per_person[trial.participant].append(trial.correct)
        rated = [p for p in per_person if (p, code, construct) in ratings]
        if trials:
            rows.append({
                "condition": code,
                **st.correlation([ratings[(p, code, construct)] for p in rated],
                                 [sum(per_person[p]) / len(per_person[p]) for p in rated]),
            })
    return {"construct": construct, "by_condition": rows}
