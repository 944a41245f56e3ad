"""Results in words, as APA style writes them."""

from __future__ import annotations

ALPHA, CHI, EPS, MINUS = "\u03b1", "\u03c7", "\u03b5", "\u2212"


def num(x: float, digits: int = 2, leading_zero: bool = True) -> str:
    text = f"{abs(x):.{digits}f}"
    if not leading_zero and text.startswith("0."):
        text = text[1:]
    return (MINUS if x < 0 and float(text) != 0 else "") + text


def fmt_p(p: float, name: str = "p") -> str:
    return f"{name} < .001" if p < 0.001 else f"{name} = {num(p, 3, False)}"


def interval(low: float | None, high: float | None, digits: int = 2, leading_zero: bool = True) -> str:
    if low is None or high is None:
        return "95% CI not computed"
    return f"95% CI [{num(low, digits, leading_zero)}, {num(high, digits, leading_zero)}]"


def not_computed(reason: str | None) -> str:
    return f"Not computed: {reason}."


def words_kruskal(r: dict) -> str:
    if r["H"] is None:
        return not_computed(r["reason"])
    eps = num(r["epsilon_squared"], 2, False)
    text = f"H({r['df']}) = {num(r['H'])}, {fmt_p(r['p'])}, {EPS}\u00b2 = {eps}"
    if r.get("epsilon_squared_ci"):
        low, high = r["epsilon_squared_ci"]
        text += f", {interval(low, high, 2, False)}"
    return text


def words_friedman(r: dict) -> str:
    """Friedman's test as R reports it, with Kendall's W as its effect size."""
    if r["chi2"] is None:
        return not_computed(r["reason"])
    return (f"Friedman {CHI}\u00b2({r['df']}) = {num(r['chi2'])}, {fmt_p(r['p'])}, "
            f"Kendall's W = {num(r['kendall_w'], 2, False)}, n = {r['n']}")


def words_wilcoxon(row: dict, p: float, name: str = "p") -> str:
    """A Wilcoxon signed-rank test: R's V, the p-value given (Holm-adjusted in a family of pairs), the
    matched-pairs rank-biserial r and the participants."""
    if row["V"] is None:
        return not_computed(row["reason"])
    return f"V = {num(row['V'], 1)}, {fmt_p(p, name)}, r = {num(row['r_rb'], 2, False)}, n = {row['n']}"


def words_welch(r: dict) -> str:
    if r["F"] is None:
        return not_computed(r["reason"])
    return f"F({r['df1']}, {num(r['df2'])}) = {num(r['F'])}, {fmt_p(r['p'])}"


def words_wald(r: dict, what: str = "Wald") -> str:
    """A joint test of the condition effects of an ordinal model."""
    if r.get("wald_chi2") is None:
        return not_computed(r["reason"])
    return f"{what} {CHI}\u00b2({r['df']}) = {num(r['wald_chi2'])}, {fmt_p(r['p'])}"


def words_independence(r: dict) -> str:
    if r["p"] is None:
        return not_computed(r["reason"])
    if r["test"] == "chi2":
        return f"{CHI}\u00b2({r['df']}) = {num(r['statistic'])}, {fmt_p(r['p'])}"
    if r["test"] == "fisher":
        return f"Fisher's exact test, {fmt_p(r['p'])}"
    return f"Fisher's exact test (Monte Carlo), {fmt_p(r['p'])}"


def words_pair(row: dict, stat: str, p: float | None = None, name: str = "p(Holm)") -> str:
    """A pairwise comparison with the p-value given (by default its Holm adjustment within the outcome;
    Games-Howell's own p-value, which the studentized range adjusts)."""
    if row.get("reason") and row.get("p") is None:
        return not_computed(row["reason"])
    if p is None:
        p, name = (row["p"], "p") if stat == "games_howell" else (row["p_holm"], name)
    if stat == "dunn":
        return f"z = {num(row['z'])}, {fmt_p(p, name)}"
    if stat == "mann_whitney":
        return f"U = {num(row['U'], 1)}, {fmt_p(p, name)}, r = {num(row['r_rb'], 2, False)}"
    if stat == "wilcoxon":
        return words_wilcoxon(row, p, name)
    odds = f"OR = {num(row['odds_ratio'])}, {interval(row['or_ci_low'], row['or_ci_high'])}" \
        if stat.startswith("model") else ""
    if stat == "model":
        return f"{odds}, z = {num(row['z'])}, {fmt_p(p, name)}"
    if stat == "model_permutation":  # the odds ratio's interval is Wald's; the p-value the permutation's
        return f"{odds}, permutation {fmt_p(p, name)}"
    return f"t({num(row['df'], 1)}) = {num(row['t'])}, {fmt_p(p, name)}"


def words_difference(effects: dict) -> str:
    """The difference in means with Welch's interval, and the rank-biserial r with its interval."""
    diff, r = effects["mean_difference"], effects["r_rb"]
    if diff["diff"] is None:
        return not_computed(effects["reason"])
    text = f"M\u2081 \u2212 M\u2082 = {num(diff['diff'])}, {interval(diff['ci_low'], diff['ci_high'])}"
    if r["r_rb"] is not None:
        text += f"; r = {num(r['r_rb'], 2, False)}, {interval(r['ci_low'], r['ci_high'], 2, False)}"
    return text


def words_equivalence(eq: dict, alpha: float, name: str = "p") -> str:
    """Two one-sided tests against the margin, with the verdict at ``alpha`` on the p-value given
    (adjusted across a family where ``name`` says so)."""
    if eq["p"] is None:
        return not_computed(eq.get("reason") or "no p-value")
    verdict = "equivalent" if eq["p"] < alpha else "equivalence not shown"
    return f"TOST against \u00b1{num(eq['margin'])}: {fmt_p(eq['p'], name)} ({verdict})"


def words_analysed(exclusions: dict, plan_name: str) -> str:
    """How many of the finished participants are analysed under ``plan_name``'s exclusion rules and
    which rules excluded the others (``exclusions`` as options.exclude gives it): the monitor's line,
    so that a count of completed participants is not read as the sample analysed."""
    finished, analysed = sum(exclusions["finished"].values()), exclusions["analysed_total"]
    if not finished:
        return f"No one has finished yet; {plan_name} will decide who is analysed."
    text = (f"{analysed} of the {finished} who finished (completed, or screened out) "
            f"{'is' if analysed == 1 else 'are'} analysed under {plan_name}")
    excluded = exclusions["excluded_total"]
    if not excluded:
        return f"{text}; its exclusion rules remove no one."
    rules = [c for c in exclusions["criteria"] if c["enabled"] and c["flagged_total"]]
    named = "; ".join(f"{c['label'][0].lower()}{c['label'][1:]} ({c['flagged_total']})" for c in rules)
    several = sum(c["flagged_total"] for c in rules) > excluded
    return (f"{text}. Its rules exclude {excluded}: {named}"
            + ("; a participant can meet more than one." if several else "."))
