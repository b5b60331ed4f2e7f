"""RiskXpert forecasting core: transforms, baselines, PatchTST, backtest, selection, artifacts.

:func:`train_indicator` is the whole per-indicator pipeline (backtest every model → calibrate
every model's intervals on its own past errors → apply the serving rule → fit the chosen model on
all data → forecast 24 months → calibrate that forecast the same way), a pure function of the
series and the settings so the Ray job, the benchmark and the tests run exactly the same code.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from finray.forecasting.artifacts import TrainedIndicator
from finray.forecasting.backtest import (
    FORECAST_MONTHS,
    HORIZONS,
    N_CALIBRATION,
    N_ORIGINS,
    run_backtest,
    summarize,
)
from finray.forecasting.baselines import BASELINES, make_baseline
from finray.forecasting.calibration import (
    WINDOW,
    calibrate_backtest,
    calibrate_forecast,
    serving_factors,
)
from finray.forecasting.patchtst import PatchTST, PatchTSTSettings
from finray.forecasting.selection import TRANSFORMER, select, skills
from finray.forecasting.transforms import Forecast, Forecaster, Transform

MODELS: tuple[str, ...] = (*BASELINES, TRANSFORMER)


@dataclass(frozen=True)
class TrainConfig:
    """Knobs of one training run (recorded in the artifact manifest)."""

    horizons: tuple[int, ...] = HORIZONS
    n_origins: int = N_ORIGINS
    min_train: int = 36
    seed: int = 20261122
    models: tuple[str, ...] = MODELS
    patchtst: PatchTSTSettings = field(default_factory=PatchTSTSettings)
    patchtst_retrain_every: int = 3  # backtest only; the final model is always fit on all data
    pairwise_selection: bool = True  # no served horizon worse than Naive (see selection.select)
    n_calibration: int = N_CALIBRATION  # extra earlier origins that only feed calibration
    forecast_months: int = FORECAST_MONTHS  # served forecast length (and calibrated horizons)
    calibration_window: int = WINDOW  # resolved forecasts per horizon behind each factor

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["horizons"] = list(self.horizons)
        d["models"] = list(self.models)
        return d


#: Optional packages (the ``forecast`` extra) each model needs; Naive/SeasonalNaive/Drift need none.
REQUIRES: dict[str, tuple[str, ...]] = {TRANSFORMER: ("torch", "transformers"), "ets": ("statsmodels",)}


def available_models(models: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The models whose packages are installed, and why the others are left out.

    Lets a fresh clone without the heavy ``forecast`` extra (torch, transformers, statsmodels)
    still train and serve honest baselines; the manifest records what was skipped.
    """
    import importlib.util

    ok: list[str] = []
    skipped: dict[str, str] = {}
    for name in models:
        missing = [m for m in REQUIRES.get(name, ()) if importlib.util.find_spec(m) is None]
        if missing:
            skipped[name] = f"not installed: {', '.join(missing)} (pip install 'finray[forecast]')"
        else:
            ok.append(name)
    return tuple(ok), skipped


def make_model(name: str, transform: Transform, config: TrainConfig) -> Forecaster:
    if name == TRANSFORMER:
        return PatchTST(transform=transform, seed=config.seed, settings=config.patchtst)
    return make_baseline(name, transform, seed=config.seed)


def train_indicator(key: str, history: pd.Series, config: TrainConfig | None = None,
                    transform: Transform | None = None) -> TrainedIndicator:
    """Backtest, select and fit one indicator on its gap-free monthly ``history``."""
    from finray.indicators.series import INDICATORS

    config = config or TrainConfig()
    if transform is None:
        ind = INDICATORS[key]
        transform = Transform(ind.transform, ind.decimals)
    t0 = time.perf_counter()
    factories = {name: (lambda n=name: make_model(n, transform, config)) for name in config.models}
    errors = run_backtest(
        history, factories, horizons=config.horizons, n_origins=config.n_origins,
        min_train=config.min_train, retrain_every={TRANSFORMER: config.patchtst_retrain_every},
        n_calibration=config.n_calibration, record_months=config.forecast_months,
    )
    errors = calibrate_backtest(errors, transform, window=config.calibration_window)
    summary = summarize(errors)
    choice = select(skills(summary, errors), pairwise=config.pairwise_selection)
    t1 = time.perf_counter()
    final = make_model(choice.model, transform, config).fit(history)
    raw_forecast: Forecast = final.predict(config.forecast_months)
    factors = serving_factors(errors, choice.model, range(1, config.forecast_months + 1), transform,
                              window=config.calibration_window)
    forecast = calibrate_forecast(raw_forecast, factors, transform)
    if isinstance(final, PatchTST):
        blob, fmt = final.to_bytes(), "torch"
    else:
        blob, fmt = pickle.dumps(final), "pickle"
    meta = {
        "transform": {"kind": transform.kind, "decimals": transform.decimals},
        "history_start": str(history.index[0]), "history_end": str(history.index[-1]),
        "n_history": len(history), "origins": sorted(set(errors["origin"])),
    }
    timings = {"backtest": round(t1 - t0, 2), "final_fit": round(time.perf_counter() - t1, 2)}
    calibration = {h: {"factor": f.factor, "n": f.n} for h, f in factors.items()}
    return TrainedIndicator(key, choice, errors, summary, history, forecast, blob, fmt, meta, timings,
                            raw_forecast=raw_forecast, calibration=calibration)


__all__ = [
    "MODELS", "REQUIRES", "TrainConfig", "TrainedIndicator", "available_models", "make_model",
    "train_indicator",
]
