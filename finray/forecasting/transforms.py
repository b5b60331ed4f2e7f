"""Stationarizing transforms, and the common forecast types every model returns.

Models work on a **working scale**: the level itself for rates (기준금리, 국고채 — they move in
basis-point steps and can approach zero, so ratios make no sense) and the natural log for prices
and indices (KOSPI, 원/달러, CPI — they move in proportions). The *changes* on that scale are
first differences and log-returns, which are what the models learn from.

Quantiles survive the trip back to levels unchanged because ``exp`` is monotone: the 10% quantile
of the log-level is the log of the 10% quantile of the level. That is why models compute
quantiles on the working scale (from sample paths when they sum changes — never by summing
quantiles) and only then map them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

TransformKind = Literal["diff", "logret"]


@dataclass(frozen=True)
class Transform:
    """Level ↔ working scale ↔ changes. ``decimals`` rounds rebuilt levels to source precision,
    which makes ``rebuild(levels[0], changes(levels)) == levels`` exact, not merely close."""

    kind: TransformKind = "diff"
    decimals: int | None = None

    def to_work(self, levels: np.ndarray | pd.Series) -> np.ndarray:
        x = np.asarray(levels, dtype=float)
        if self.kind == "logret":
            if (x <= 0).any():
                raise ValueError("log-returns need strictly positive levels")
            return np.log(x)
        return x.copy()

    def from_work(self, work: np.ndarray) -> np.ndarray:
        x = np.exp(work) if self.kind == "logret" else np.asarray(work, dtype=float)
        return np.round(x, self.decimals) if self.decimals is not None else x

    def changes(self, levels: np.ndarray | pd.Series) -> np.ndarray:
        """First differences (rates) or log-returns (prices) of ``levels``."""
        return np.diff(self.to_work(levels))

    def rebuild(self, anchor: float, changes: np.ndarray) -> np.ndarray:
        """Levels ``anchor, anchor⊕c1, anchor⊕c1⊕c2, …`` (length ``len(changes)+1``)."""
        w0 = self.to_work(np.array([anchor]))[0]
        return self.from_work(np.concatenate([[w0], w0 + np.cumsum(changes)]))


@dataclass(frozen=True)
class Forecast:
    """Median and 80% interval (10%/90% quantiles) in **levels**, for months ``index``."""

    index: pd.PeriodIndex
    median: np.ndarray
    p10: np.ndarray
    p90: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.index)
        if not (len(self.median) == len(self.p10) == len(self.p90) == n):
            raise ValueError("forecast arrays and index differ in length")

    def head(self, h: int) -> Forecast:
        return Forecast(self.index[:h], self.median[:h], self.p10[:h], self.p90[:h])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"median": self.median, "p10": self.p10, "p90": self.p90}, index=self.index.astype(str)
        )


class Forecaster(Protocol):
    """The one interface the backtest, the job and serving use."""

    name: str

    def fit(self, history: pd.Series) -> Forecaster:
        """Fit on ``history`` (monthly ``PeriodIndex``, no gaps) and return the fitted model."""
        ...

    def predict(self, h: int) -> Forecast:
        """Median and 10%/90% quantiles for the ``h`` months after the history."""
        ...


def future_index(history: pd.Series, h: int) -> pd.PeriodIndex:
    last = pd.Period(history.index[-1], freq="M")
    return pd.period_range(last + 1, periods=h, freq="M")


def check_history(history: pd.Series, min_len: int) -> pd.Series:
    """A clean float copy; refuses gaps and too-short histories (models would silently break)."""
    if not isinstance(history.index, pd.PeriodIndex):
        history = history.copy()
        history.index = pd.PeriodIndex(history.index, freq="M")
    s = history.astype(float)
    if s.isna().any():
        raise ValueError("history has gaps (NaN); fit on usable_history(series)")
    if len(s) < min_len:
        raise ValueError(f"history too short: {len(s)} months < {min_len}")
    expected = pd.period_range(s.index[0], periods=len(s), freq="M")
    if not s.index.equals(expected):
        raise ValueError("history months are not consecutive")
    return s


@dataclass
class SamplePaths:
    """Working-scale sample paths → level quantiles (shared by bootstrap and PatchTST)."""

    paths: np.ndarray = field(repr=False)  # (n_paths, h) on the working scale

    def quantiles(self, transform: Transform) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q = np.quantile(self.paths, [0.1, 0.5, 0.9], axis=0)
        return transform.from_work(q[1]), transform.from_work(q[0]), transform.from_work(q[2])
