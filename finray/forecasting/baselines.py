"""Benchmark forecasters: Naive, SeasonalNaive(12), Drift and a damped-trend ETS.

They are the bar the Transformer must clear, and the fallback served when it does not. All work
on the working scale of :class:`~finray.forecasting.transforms.Transform` (levels for rates,
log-levels for prices), so "drift" on KOSPI is geometric growth.

Intervals for Naive/SeasonalNaive/Drift come from a **residual bootstrap**: one-step residuals of
the fit (centred, so the median stays the textbook point forecast) are resampled with a fixed
seed and accumulated along simulated paths; the 10%/90% quantiles of those paths are the 80%
interval. ETS uses statsmodels' own prediction intervals for the additive-error model.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finray.forecasting.transforms import (
    Forecast,
    SamplePaths,
    Transform,
    check_history,
    future_index,
)

N_PATHS = 2000


@dataclass
class _Bootstrap:
    """Shared state and prediction of the bootstrap baselines."""

    transform: Transform = field(default_factory=Transform)
    seed: int = 0
    n_paths: int = N_PATHS
    name: str = "base"
    min_len: int = 3

    # fitted state (set by fit)
    y: np.ndarray | None = field(default=None, repr=False)
    resid: np.ndarray | None = field(default=None, repr=False)
    last: pd.Period | None = None

    def fit(self, history: pd.Series) -> _Bootstrap:
        s = check_history(history, self.min_len)
        self.y = self.transform.to_work(s.to_numpy())
        self.last = s.index[-1]
        self.resid = self._residuals(self.y)
        self.resid = self.resid - self.resid.mean()
        return self

    def predict(self, h: int) -> Forecast:
        assert self.y is not None and self.resid is not None and self.last is not None, "fit first"
        point = self._point(h)
        rng = np.random.default_rng(self.seed)
        draws = rng.choice(self.resid, size=(self.n_paths, h), replace=True)
        paths = self._paths(draws)
        _, p10, p90 = SamplePaths(paths).quantiles(self.transform)
        idx = pd.period_range(self.last + 1, periods=h, freq="M")
        return Forecast(idx, self.transform.from_work(point), p10, p90)

    # overridden by each model
    def _residuals(self, y: np.ndarray) -> np.ndarray:
        return np.diff(y)

    def _point(self, h: int) -> np.ndarray:
        raise NotImplementedError

    def _paths(self, draws: np.ndarray) -> np.ndarray:
        """Random-walk-type paths: point + cumulative resampled residuals."""
        return self._point(draws.shape[1])[None, :] + np.cumsum(draws, axis=1)


@dataclass
class Naive(_Bootstrap):
    """Last value carried forward: the random walk every relative MASE is measured against."""

    name: str = "naive"
    min_len: int = 3

    def _point(self, h: int) -> np.ndarray:
        assert self.y is not None
        return np.full(h, self.y[-1])


@dataclass
class Drift(_Bootstrap):
    """Random walk with the average historical change as drift (on the working scale)."""

    name: str = "drift"
    min_len: int = 3

    def _point(self, h: int) -> np.ndarray:
        assert self.y is not None
        slope = (self.y[-1] - self.y[0]) / (len(self.y) - 1)
        return self.y[-1] + slope * np.arange(1, h + 1)


@dataclass
class SeasonalNaive(_Bootstrap):
    """Same month last year (``period`` = 12); residuals are year-on-year changes."""

    name: str = "seasonal_naive"
    period: int = 12
    min_len: int = 14

    def _residuals(self, y: np.ndarray) -> np.ndarray:
        return y[self.period :] - y[: -self.period]

    def _point(self, h: int) -> np.ndarray:
        assert self.y is not None
        m, n = self.period, len(self.y)
        return np.array([self.y[n - m + ((k - 1) % m)] for k in range(1, h + 1)])

    def _paths(self, draws: np.ndarray) -> np.ndarray:
        """Simulate recursively so that horizons beyond a year build on simulated values."""
        assert self.y is not None
        m = self.period
        n_paths, h = draws.shape
        sim = np.empty((n_paths, m + h))
        sim[:, :m] = self.y[-m:]
        for k in range(h):
            sim[:, m + k] = sim[:, k] + draws[:, k]
        return sim[:, m:]


@dataclass
class ETS:
    """Exponential smoothing with additive errors and a damped additive trend (statsmodels).

    Damping keeps long horizons from extrapolating a short-lived trend, which is the classic
    failure of undamped Holt on rates. Only the fitted parameters and the history are kept, so the
    model pickles small; the statsmodels results object is rebuilt from them on demand.
    """

    transform: Transform = field(default_factory=Transform)
    seed: int = 0
    name: str = "ets"
    min_len: int = 10

    y: np.ndarray | None = field(default=None, repr=False)
    params: np.ndarray | None = None
    last: pd.Period | None = None
    _res: Any = field(default=None, repr=False, compare=False)

    def _model(self, y: np.ndarray) -> Any:
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        return ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True, seasonal=None)

    def fit(self, history: pd.Series) -> ETS:
        s = check_history(history, self.min_len)
        self.y = self.transform.to_work(s.to_numpy())
        self.last = s.index[-1]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = self._model(self.y).fit(disp=False, maxiter=200)
        self.params = np.asarray(res.params, dtype=float)
        self._res = res
        return self

    def _results(self) -> Any:
        if self._res is None:
            assert self.y is not None and self.params is not None, "fit first"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._res = self._model(self.y).smooth(self.params)
        return self._res

    def predict(self, h: int) -> Forecast:
        assert self.y is not None and self.last is not None, "fit first"
        res = self._results()
        n = len(self.y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = res.get_prediction(start=n, end=n + h - 1).summary_frame(alpha=0.2)
        mean = frame["mean"].to_numpy(dtype=float)
        lo = frame["pi_lower"].to_numpy(dtype=float)
        hi = frame["pi_upper"].to_numpy(dtype=float)
        idx = pd.period_range(self.last + 1, periods=h, freq="M")
        tf = self.transform
        return Forecast(idx, tf.from_work(mean), tf.from_work(lo), tf.from_work(hi))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_res"] = None  # rebuilt from params; statsmodels results are large
        return state


BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "drift", "ets")


def make_baseline(name: str, transform: Transform, seed: int = 0) -> Naive | SeasonalNaive | Drift | ETS:
    cls = {"naive": Naive, "seasonal_naive": SeasonalNaive, "drift": Drift, "ets": ETS}[name]
    return cls(transform=transform, seed=seed)


__all__ = ["BASELINES", "Drift", "ETS", "Naive", "SeasonalNaive", "future_index", "make_baseline"]
