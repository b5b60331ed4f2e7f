"""Interval calibration: stretch or shrink each model's 80% interval by what its own past errors say.

The models' intervals come from assumptions — bootstrapped one-step residuals summed into paths,
ETS's Gaussian state-space formula, PatchTST's Student-t head — and the backtest shows those
assumptions miss in both directions (base_rate Naive covered 0.69, CPI Drift 0.95, KTB 3y ETS
1.00). Calibration replaces "what the model assumes" with "how wrong the model has actually
been", per indicator × model × horizon, in the spirit of split-conformal prediction:

* **score** of a resolved forecast = how far the actual lies from the median in units of the
  interval's half-width on that side, on the working scale (log for prices)::

      s = (y − median) / (p90 − median)   if y ≥ median
      s = (median − y) / (median − p10)   otherwise

  The forecast was covered exactly when ``s ≤ 1``.
* **factor** for horizon ``h`` at a cutoff = the conformal quantile (rank ``⌈(n+1)·0.8⌉`` of ``n``)
  of the scores of the last :data:`WINDOW` forecasts of each horizon ``h-1``, ``h``, ``h+1``
  **whose target month is already observed at that cutoff**. Under exchangeability this interval
  covers with probability ``⌈(n+1)·0.8⌉/(n+1)`` (0.80 for ``n = 24``, 0.81 for ``n = 72``). Neighbouring
  horizons are pooled because 24 overlapping errors of one horizon give a noisy quantile, and a
  served band whose width jumps up and down from month to month would be read as information.
* the **calibrated interval** is ``median ± factor × half-width`` on each side (so a model's
  asymmetry and the way its uncertainty grows with the horizon are kept; only the size changes),
  mapped back to levels.

Why the last 24 resolved forecasts and not all of them: macro series change regime (the 2022
inflation and hiking cycle, the calm 2023–25 CPI), and the recent error size says more about the
next forecast than errors from a decade ago. The window is one constant for every indicator,
model and horizon. It was picked after comparing three variants on this same backtest (the
model's own interval, all resolved forecasts, the last 24) — a choice made on the scored window,
so ``bench/forecast_backtest.py`` reports all three variants side by side rather than hiding the
alternatives.

No look-ahead: inside the backtest, the factor used at origin ``o`` sees only forecasts whose
target index is ``< o`` (observed in ``series[:o]``); ``tests/test_backtest.py`` plants a future
spike to check it. For serving, the factor uses every resolved backtest forecast — the same rule
applied at the end of the history.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finray.forecasting.transforms import Forecast, Transform

LEVEL = 0.8  # the 10%–90% interval
WINDOW = 24  # resolved forecasts per horizon that set the factor
SPREAD = 1  # horizons h-1..h+1 pool their scores: 3× the data, factors that vary smoothly with h
MIN_RESIDUALS = 8  # fewer than this: keep the model's own interval (factor 1)
MAX_FACTOR = 100.0  # a collapsed interval (width ≈ 0) must not become infinite
_EPS = 1e-12


def scores(actual: np.ndarray, median: np.ndarray, p10: np.ndarray, p90: np.ndarray,
           transform: Transform) -> np.ndarray:
    """Side-wise distance of ``actual`` from ``median`` in half-widths (working scale)."""
    y, m, lo, hi = (transform.to_work(np.asarray(a, dtype=float)) for a in (actual, median, p10, p90))
    up = np.maximum(hi - m, _EPS)
    dn = np.maximum(m - lo, _EPS)
    return np.where(y >= m, (y - m) / up, (m - y) / dn)


def conformal_factor(values: Iterable[float], level: float = LEVEL) -> float:
    """Rank ``⌈(n+1)·level⌉`` of ``n`` scores (the split-conformal quantile), capped."""
    s = np.sort(np.asarray(list(values), dtype=float))
    n = len(s)
    if n == 0:
        return 1.0
    k = math.ceil((n + 1) * level)
    q = s[min(k, n) - 1] if k <= n else s[-1]  # k > n only for n < 4; use the max then
    return float(min(max(q, 0.0), MAX_FACTOR))


def apply_factor(median: np.ndarray, p10: np.ndarray, p90: np.ndarray, factor: np.ndarray | float,
                 transform: Transform) -> tuple[np.ndarray, np.ndarray]:
    """``median ± factor × half-width`` on the working scale, back to (rounded) levels."""
    m, lo, hi = (transform.to_work(np.asarray(a, dtype=float)) for a in (median, p10, p90))
    f = np.asarray(factor, dtype=float)
    new_lo = m - f * np.maximum(m - lo, 0.0)
    new_hi = m + f * np.maximum(hi - m, 0.0)
    return transform.from_work(new_lo), transform.from_work(new_hi)


@dataclass(frozen=True)
class HorizonFactor:
    """The factor for one horizon and how many resolved forecasts it rests on."""

    factor: float
    n: int


def _recent_factor(hs: np.ndarray, t: np.ndarray, s: np.ndarray, h: int, cutoff: float, window: int,
                   min_n: int, spread: int) -> HorizonFactor:
    """Factor for horizon ``h`` from the ``window`` most recently resolved scores (target
    ``< cutoff``) of each horizon ``h-spread..h+spread``."""
    used: list[np.ndarray] = []
    for hh in range(h - spread, h + spread + 1):
        idx = np.flatnonzero((hs == hh) & (t < cutoff))
        if len(idx):
            used.append(idx[np.argsort(t[idx], kind="stable")][-window:])
    pick = np.concatenate(used) if used else np.array([], dtype=int)
    if len(pick) < min_n:
        return HorizonFactor(1.0, len(pick))
    return HorizonFactor(conformal_factor(s[pick]), len(pick))


def calibrate_backtest(errors: pd.DataFrame, transform: Transform, *, window: int = WINDOW,
                       min_n: int = MIN_RESIDUALS, spread: int = SPREAD) -> pd.DataFrame:
    """Calibrated intervals for every backtest row, using only forecasts resolved before its origin.

    Expects the columns :func:`~finray.forecasting.backtest.backtest_model` writes (``model``,
    ``origin_idx``, ``h``, ``actual``, ``median``, ``p10``, ``p90``). Returns a copy where
    ``p10``/``p90``/``covered``/``width`` are calibrated, the model's own interval is kept as
    ``raw_p10``/``raw_p90``/``raw_covered``/``raw_width``, and ``cal_factor``/``cal_n`` say how.
    """
    out = errors.copy()
    if out.empty:
        for c in ("raw_p10", "raw_p90", "raw_covered", "raw_width", "cal_factor", "cal_n"):
            out[c] = pd.Series(dtype=float)
        return out
    out["raw_p10"], out["raw_p90"] = out["p10"], out["p90"]
    out["raw_covered"], out["raw_width"] = out["covered"], out["width"]
    s_all = scores(out["actual"].to_numpy(), out["median"].to_numpy(), out["p10"].to_numpy(),
                   out["p90"].to_numpy(), transform)
    target = (out["origin_idx"] + out["h"] - 1).to_numpy()
    horizon = out["h"].to_numpy()
    origin = out["origin_idx"].to_numpy()
    factor = np.ones(len(out))
    n_used = np.zeros(len(out), dtype=int)
    for _, idx in out.groupby("model", sort=False).indices.items():
        hs, t, s = horizon[idx], target[idx], s_all[idx]
        memo: dict[tuple[int, int], HorizonFactor] = {}
        for j in idx:
            key = (int(horizon[j]), int(origin[j]))
            if key not in memo:
                memo[key] = _recent_factor(hs, t, s, key[0], key[1], window, min_n, spread)
            factor[j], n_used[j] = memo[key].factor, memo[key].n
    lo, hi = apply_factor(out["median"].to_numpy(), out["p10"].to_numpy(), out["p90"].to_numpy(),
                          factor, transform)
    out["p10"], out["p90"] = lo, hi
    out["covered"] = (out["p10"] <= out["actual"]) & (out["actual"] <= out["p90"])
    out["width"] = out["p90"] - out["p10"]
    out["cal_factor"], out["cal_n"] = factor, n_used
    return out


def serving_factors(errors: pd.DataFrame, model: str, horizons: Iterable[int], transform: Transform,
                    *, window: int = WINDOW, min_n: int = MIN_RESIDUALS,
                    spread: int = SPREAD) -> dict[int, HorizonFactor]:
    """Per-horizon factors for the served forecast: the same rule at the end of the history.

    Uses the model's uncalibrated (``raw_*``) intervals when present, because the factor scales
    the model's own interval.
    """
    rows = errors[errors["model"] == model]
    lo_col = "raw_p10" if "raw_p10" in rows else "p10"
    hi_col = "raw_p90" if "raw_p90" in rows else "p90"
    s = scores(rows["actual"].to_numpy(), rows["median"].to_numpy(), rows[lo_col].to_numpy(),
               rows[hi_col].to_numpy(), transform)
    t = (rows["origin_idx"] + rows["h"] - 1).to_numpy()
    hs = rows["h"].to_numpy()
    return {int(h): _recent_factor(hs, t, s, int(h), math.inf, window, min_n, spread) for h in horizons}


def calibrate_forecast(forecast: Forecast, factors: dict[int, HorizonFactor],
                       transform: Transform) -> Forecast:
    """The forecast with each horizon's interval scaled by its factor (1 where none)."""
    f = np.array([factors[h].factor if h in factors else 1.0 for h in range(1, len(forecast.index) + 1)])
    lo, hi = apply_factor(forecast.median, forecast.p10, forecast.p90, f, transform)
    return Forecast(forecast.index, forecast.median, lo, hi)


__all__ = [
    "LEVEL", "MIN_RESIDUALS", "WINDOW", "HorizonFactor", "apply_factor", "calibrate_backtest",
    "calibrate_forecast", "conformal_factor", "scores", "serving_factors",
]
