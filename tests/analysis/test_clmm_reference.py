"""The mixed model's fit, its scores and the permutation test against values stored from the code before
the fit was made faster (commit 411afb2; tests/analysis/data/clmm_reference.json): a simulated study of
120 participants crossed with 6 stimuli, two answers per trial, three conditions between or within
participants; and the report's words where an outcome is over the model's size limit. Pure, no
database."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from analysis.report import outcome as outcome_module
from analysis.report.outcome import mixed_model, model_inputs, score_permutation
from analysis.stats import clmm, contrasts

clmm_module = importlib.import_module("analysis.stats.clmm")  # the package exports clmm, the function
REFERENCE = json.loads((Path(__file__).parent / "data" / "clmm_reference.json").read_text())
TOLERANCE = 1e-6


def simulated_study(within: bool) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Category index, condition index and (participant, stimulus) levels per answer: participant SD 1,
    stimulus SD 0.5 on the logit scale, condition effects 0, 0.25 and 0.1, five categories."""
    rng = np.random.default_rng(11)
    people, stimuli, items = 120, 6, 2
    person = np.repeat(np.arange(people), stimuli * items)
    stimulus = np.tile(np.repeat(np.arange(stimuli), items), people)
    condition = (person + stimulus) % 3 if within else person % 3
    eta = (np.array([0.0, 0.25, 0.1])[condition] + rng.normal(0, 1, people)[person]
           + rng.normal(0, 0.5, stimuli)[stimulus])
    y = np.searchsorted([-2.0, -0.7, 0.7, 2.0], eta + rng.logistic(size=len(person)))
    return y, condition, [person, stimulus]


def _close(new, old) -> None:
    assert np.asarray(new, dtype=float) == pytest.approx(np.asarray(old, dtype=float), abs=TOLERANCE, rel=0)


@pytest.mark.parametrize("block", [8192, 100])
@pytest.mark.parametrize("design", ["between", "within"])
def test_the_fit_equals_the_one_before_the_speed_up(design, block, monkeypatch):
    # block 100: the 1,440 answers are computed in 15 blocks of rows, as a study's tens of thousands are
    monkeypatch.setattr(clmm_module, "_BLOCK", block)
    ref = REFERENCE[design]
    y, condition, factors = simulated_study(design == "within")
    full = clmm(y, np.eye(3)[condition][:, 1:], factors)
    null = clmm(y, np.zeros((len(y), 0)), factors, standard_errors=False)
    for key, value in ref["full"].items():
        if key == "modes":
            for new, old in zip(full[key], value, strict=True):
                _close(new, old)
        else:
            _close(full[key], value)
    _close(full["response_scores"], ref["full_scores"])
    for key in ("thresholds", "sds", "loglik"):
        _close(null[key], ref["null"][key])
    _close(null["response_scores"], ref["null_scores"])
    pairs = contrasts(["a", "b", "c"], full["coefficients"], full["coefficient_cov"])
    _close([r["p"] for r in pairs], ref["wald_p"])
    _close([r["p_holm"] for r in pairs], ref["wald_p_holm"])
    perm = score_permutation(y, condition, factors, ["a", "b", "c"], design == "within", seed=7)
    assert perm["p"] == ref["permutation_p"]
    assert perm["statistic"] == pytest.approx(ref["permutation_statistic"], rel=1e-6)
    assert [r["p"] for r in perm["pairs"]] == ref["permutation_pairs_p"]


def test_an_outcome_over_the_size_limit_is_skipped_with_the_reason_in_words(monkeypatch):
    y, condition, (person, stimulus) = simulated_study(within=False)
    codes = ["a", "b", "c"]
    rows = [(codes[k], int(p), int(s), int(v))
            for k, p, s, v in zip(condition, person, stimulus, y, strict=True)]
    outcome = SimpleNamespace(answers={c: [[0]] * 40 for c in codes}, rows=rows)
    assert len(model_inputs(outcome, codes)[1]) == 1440  # within the limit: fitted
    monkeypatch.setattr(outcome_module, "MIXED_MAX_ANSWERS", 1000)
    block = mixed_model(outcome, codes)
    assert not block["fitted"] and block["reason"] == block["permutation"]["reason"] == (
        "1,440 answers, over the 1,000 the report fits the mixed model for within its time budget; the "
        "cluster-robust model stands in")


@pytest.mark.parametrize("design", ["between", "within"])
def test_a_fit_started_from_a_pilot_reaches_the_same_maximum(design, monkeypatch):
    """From 20,000 rows a fit starts from a pilot fit on a sixteenth of the participants (clmm._pilot).
    Forced here on the simulated study (a third of its 120 participants): the estimates are those of the
    maximum found from the default start with a gradient 10,000 times smaller to 2e-7, and the stored fit
    of before the speed-up to 1.1e-6, that fit's own distance from the maximum."""
    y, condition, factors = simulated_study(design == "within")
    design_matrix = np.eye(3)[condition][:, 1:]
    maximise = clmm_module._maximise
    with monkeypatch.context() as tight:
        tight.setattr(clmm_module, "_maximise", lambda model, k1, start, hess_inv0=None, gtol=1e-7:
                      maximise(model, k1, start, hess_inv0, 1e-11))
        maximum = clmm(y, design_matrix, factors)
    pilots, real_pilot = [], clmm_module._pilot
    monkeypatch.setattr(clmm_module, "PILOT_ROWS", 0)
    monkeypatch.setattr(clmm_module, "PILOT_SHARE", 3)
    monkeypatch.setattr(clmm_module, "_pilot", lambda *args: pilots.append(real_pilot(*args)) or pilots[-1])
    fit = clmm(y, design_matrix, factors)
    assert pilots and pilots[0] is not None  # the fit did start from a pilot
    for key in ("thresholds", "coefficients", "sds", "coefficient_se"):
        assert np.asarray(fit[key]) == pytest.approx(np.asarray(maximum[key]), abs=2e-7, rel=0)
        before = REFERENCE[design]["full"][key]
        assert np.asarray(fit[key]) == pytest.approx(np.asarray(before), abs=1.1e-6, rel=0)
    assert fit["loglik"] == pytest.approx(maximum["loglik"], abs=1e-9, rel=0)


@pytest.mark.parametrize("design", ["between", "within"])
def test_outcomes_on_the_same_participants_share_their_permutations(design, monkeypatch):
    """The report runs every outcome's permutation test on the same permutations, drawn once
    (score_permutations): each outcome gets exactly the p-values score_permutation gives it with that seed,
    and an outcome measured on other participants gets its own draws, as it would alone."""
    y, condition, factors = simulated_study(design == "within")
    within = design == "within"
    people = np.arange(120)
    other = (np.clip(y + (factors[1] % 2), 0, 4), condition, factors, people)  # a second outcome, same people
    fewer = factors[0] < 90  # a third outcome, answered by 90 of the 120
    inputs = {"first": (["a", "b", "c"], y, condition, factors, people),
              "second": (["a", "b", "c"], *other),
              "third": (["a", "b", "c"], y[fewer], condition[fewer], [f[fewer] for f in factors],
                        people[:90])}
    batches, omnibus_many = [], outcome_module.st.permutation_omnibus_many
    monkeypatch.setattr(outcome_module.st, "permutation_omnibus_many",
                        lambda tables, **kw: batches.append(len(tables)) or omnibus_many(tables, **kw))
    shared = outcome_module.score_permutations(inputs, within, seed=7)
    assert batches == [2, 1]  # drawn once for the first two, once for the third
    monkeypatch.undo()
    for key, (present, y_k, condition_k, factors_k, _people) in inputs.items():
        alone = score_permutation(y_k, condition_k, factors_k, present, within, seed=7)
        assert shared[key]["p"] == alone["p"] and shared[key]["statistic"] == alone["statistic"]
        assert [r["p"] for r in shared[key]["pairs"]] == [r["p"] for r in alone["pairs"]]
    assert shared["first"]["p"] == REFERENCE[design]["permutation_p"]  # as the single test stored before
    assert shared["first"]["statistic"] != shared["second"]["statistic"]
