"""Rolling-origin backtest: what each model would have forecast, month by month, with no peeking.

For every origin ``o`` (an index into the monthly series) a **fresh** model is fitted on
``series.iloc[:o]`` only — every statistic (scaling, residuals, ETS states, PatchTST weights) is
computed inside that fit — and asked for ``max(horizons)`` months. The forecast for horizon ``h``
is scored against ``series.iloc[o + h - 1]`` when it exists. Nothing at or after ``o`` is passed
to the model, which the planted-spike test in ``tests/test_backtest.py`` checks.

Metrics (per model × horizon, averaged over origins):

* **MASE** — |error| / (mean |one-step change| of the history up to the origin), the scale of the
  in-sample naive forecast at that cutoff (Hyndman & Koehler 2006). Unit-free, so indicators can
  be compared and averaged;
* **relMASE** — MASE of the model / MASE of Naive on the same origins (< 1 beats the random walk);
* **MAE** — in the indicator's own units (%p for rates, 원 for FX, points for KOSPI);
* **coverage** — share of actuals inside the 80% interval (target 0.80), and its mean **width**.

Expensive models (``retrain_every > 1``) may be retrained only every few origins and re-anchored
on the new history in between (:meth:`update`): the weights then saw *less* data than allowed,
never more.

Two kinds of rows: the **scored** ones (the last ``n_origins`` origins × the metric horizons
1/3/6/12) that every metric above is computed on, and **calibration** rows — ``n_calibration``
earlier origins, and every horizon 1..``record_months`` — that only feed the interval
calibration (:mod:`finray.forecasting.calibration`), which needs resolved forecasts from before
the first scored origin and factors for every month a user may ask for (1..24).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from finray.forecasting.transforms import Forecaster

HORIZONS: tuple[int, ...] = (1, 3, 6, 12)
N_ORIGINS = 24  # gives ≥ 13 scored origins at h = 12
N_CALIBRATION = 24  # earlier origins whose resolved forecasts calibrate the first scored ones
FORECAST_MONTHS = 24  # the longest forecast served (requests ask for 1..24 months)
NAIVE = "naive"

ModelFactory = Callable[[], Forecaster]


def rolling_origins(n: int, n_origins: int = N_ORIGINS, min_train: int = 36) -> list[int]:
    """The last ``n_origins`` cut points of a series of length ``n`` (each ≥ ``min_train``)."""
    first = max(min_train, n - n_origins)
    if first >= n:
        raise ValueError(f"series of {n} months is too short for min_train={min_train}")
    return list(range(first, n))


def naive_scale(history: np.ndarray) -> float:
    """Mean absolute one-step change of ``history`` — the MASE denominator at this cutoff."""
    d = np.abs(np.diff(np.asarray(history, dtype=float)))
    return float(d.mean()) if len(d) else float("nan")


def backtest_model(
    series: pd.Series,
    name: str,
    make: ModelFactory,
    origins: Sequence[int],
    horizons: Sequence[int] = HORIZONS,
    retrain_every: int = 1,
) -> pd.DataFrame:
    """One row per (origin, horizon) with forecast, actual and per-row error terms."""
    values = series.to_numpy(dtype=float)
    H = max(horizons)
    rows: list[dict[str, Any]] = []
    model: Any = None
    for i, o in enumerate(origins):
        history = series.iloc[:o]
        if model is None or retrain_every <= 1 or i % retrain_every == 0 or not hasattr(model, "update"):
            model = make().fit(history)
        else:
            model = model.update(history)
        fc = model.predict(H)
        scale = naive_scale(values[:o])
        for h in horizons:
            t = o + h - 1
            if t >= len(values):
                continue
            actual = values[t]
            med, lo, hi = float(fc.median[h - 1]), float(fc.p10[h - 1]), float(fc.p90[h - 1])
            err = actual - med
            rows.append({
                "model": name, "origin": str(series.index[o - 1]), "origin_idx": o, "h": h,
                "target": str(series.index[t]), "actual": actual, "median": med, "p10": lo,
                "p90": hi, "scale": scale, "abs_err": abs(err),
                "scaled_err": abs(err) / scale if scale > 0 else np.nan,
                "covered": bool(lo <= actual <= hi), "width": hi - lo,
            })
    return pd.DataFrame(rows)


def run_backtest(
    series: pd.Series,
    factories: dict[str, ModelFactory],
    *,
    horizons: Sequence[int] = HORIZONS,
    n_origins: int = N_ORIGINS,
    min_train: int = 36,
    retrain_every: dict[str, int] | None = None,
    n_calibration: int = 0,
    record_months: int | None = None,
) -> pd.DataFrame:
    """Backtest every model on the same origins; the long error table (see :func:`summarize`).

    Origins are the last ``n_origins + n_calibration`` cut points (as many as the series allows
    above ``min_train``); the last ``n_origins`` of them are scored. Rows are written for every
    horizon 1..``record_months`` (default: ``max(horizons)``); the ``scored`` column marks the
    rows the metrics use.
    """
    origins = rolling_origins(len(series), n_origins + n_calibration, min_train)
    scored_origins = set(origins[-n_origins:])
    record = range(1, max(record_months or 0, max(horizons)) + 1)
    frames = [
        backtest_model(series, name, make, origins, record, (retrain_every or {}).get(name, 1))
        for name, make in factories.items()
    ]
    out = pd.concat(frames, ignore_index=True)
    out["scored"] = out["origin_idx"].isin(scored_origins) & out["h"].isin(list(horizons))
    return out


def scored_rows(errors: pd.DataFrame) -> pd.DataFrame:
    """The rows metrics are computed on (all rows for tables without a ``scored`` column)."""
    if "scored" not in errors.columns:
        return errors
    return errors[errors["scored"].astype(bool)]


def summarize(errors: pd.DataFrame, naive: str = NAIVE) -> pd.DataFrame:
    """Per model × horizon over the scored rows: n, MASE, relMASE (vs ``naive``), MAE, coverage,
    width — and the uncalibrated ``raw_coverage``/``raw_width`` when the rows were calibrated."""
    errors = scored_rows(errors)
    g = errors.groupby(["model", "h"], sort=True)
    cols = {
        "n": g.size(),
        "mase": g["scaled_err"].mean(),
        "mae": g["abs_err"].mean(),
        "coverage": g["covered"].mean(),
        "width": g["width"].mean(),
    }
    raw = "raw_covered" in errors.columns
    if raw:
        cols["raw_coverage"] = g["raw_covered"].mean()
        cols["raw_width"] = g["raw_width"].mean()
    out = pd.DataFrame(cols).reset_index()
    if naive in set(out["model"]):
        base = out[out["model"] == naive].set_index("h")["mase"]
        out["rel_mase"] = out["mase"] / out["h"].map(base)
    else:
        out["rel_mase"] = np.nan
    keep = ["model", "h", "n", "mase", "rel_mase", "mae", "coverage", "width"]
    return out[keep + (["raw_coverage", "raw_width"] if raw else [])]


def aggregate(summary: pd.DataFrame, errors: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per model across horizons: mean MASE, geometric-mean relMASE, pooled coverage.

    The geometric mean is the right average of ratios (a 0.5 and a 2.0 cancel out); coverage is
    pooled over all scored (origin, horizon) pairs when ``errors`` is given.
    """
    if errors is not None:
        errors = scored_rows(errors)
    rows = []
    for model, df in summary.groupby("model", sort=True):
        rel = df["rel_mase"].to_numpy(dtype=float)
        cov = (float(errors.loc[errors["model"] == model, "covered"].mean())
               if errors is not None else float(df["coverage"].mean()))
        raw_cov = float("nan")
        if errors is not None and "raw_covered" in errors.columns:
            raw_cov = float(errors.loc[errors["model"] == model, "raw_covered"].mean())
        elif "raw_coverage" in df.columns:
            raw_cov = float(df["raw_coverage"].mean())
        rows.append({
            "model": model,
            "mase": float(df["mase"].mean()),
            "rel_mase": float(np.exp(np.mean(np.log(rel)))) if np.all(rel > 0) else float("nan"),
            "mae": float(df["mae"].mean()),
            "coverage": cov,
            "width": float(df["width"].mean()),
            "n": int(df["n"].sum()),
            "raw_coverage": raw_cov,
        })
    return pd.DataFrame(rows)
