"""Power and sensitivity of a one-way design."""

from __future__ import annotations

from scipy import optimize
from scipy import stats as sps


def anova_power(f: float, k: int, n: float, alpha: float = 0.05) -> float:
    """Power of the one-way ANOVA F test for k groups of n (noncentral F, λ = f² · k · n; as R's
    pwr.anova.test and G*Power)."""
    df1, df2 = k - 1, k * n - k
    crit = sps.f.isf(alpha, df1, df2)
    return float(sps.ncf.sf(crit, df1, df2, f * f * k * n))


def sensitivity(k: int, n: float, alpha: float = 0.05, power: float = 0.80) -> dict:
    """Smallest Cohen's f detectable with the given power by a one-way ANOVA on k groups of n, and
    the same effect as η² = f² / (1 + f²) (comparable to ε² for a rank test)."""
    out = {"k": k, "n_per_group": n, "alpha": alpha, "power": power, "f": None, "eta_squared": None,
           "reason": None}
    if k < 2 or n < 2:
        out["reason"] = "needs at least two groups of at least two participants"
        return out
    f = optimize.brentq(lambda f: anova_power(f, k, n, alpha) - power, 1e-6, 100.0, xtol=1e-10)
    out.update(f=float(f), eta_squared=float(f * f / (1 + f * f)))
    return out
