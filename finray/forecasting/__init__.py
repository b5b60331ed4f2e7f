"""RiskXpert forecasting core: transforms, baselines, PatchTST, backtest, selection, artifacts.

:func:`train_indicator` is the whole per-indicator pipeline (backtest every model → apply the
serving rule → fit the chosen model on all data → forecast), a pure function of the series and
the settings so the Ray job, the benchmark and the tests run exactly the same code.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from finray.forecasting.artifacts import TrainedIndicator
from finray.forecasting.backtest import HORIZONS, N_ORIGINS, run_backtest, summarize
from finray.forecasting.baselines import BASELINES, make_baseline
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

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["horizons"] = list(self.horizons)
        d["models"] = list(self.models)
        return d


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
    )
    summary = summarize(errors)
    choice = select(skills(summary, errors), pairwise=config.pairwise_selection)
    t1 = time.perf_counter()
    final = make_model(choice.model, transform, config).fit(history)
    forecast: Forecast = final.predict(max(config.horizons))
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
    return TrainedIndicator(key, choice, errors, summary, history, forecast, blob, fmt, meta, timings)


__all__ = [
    "MODELS", "TrainConfig", "TrainedIndicator", "make_model", "train_indicator",
]
