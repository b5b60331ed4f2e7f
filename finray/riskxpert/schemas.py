"""RiskXpert request/response models, shared by the service, the Serve deployment and the router.

They live in the domain library (not in ``serve_apps``) so the service validates exactly what the
HTTP layer validates, and a caller through a DeploymentHandle gets the same 422-worthy errors.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IndicatorKey = Literal["base_rate", "usd_krw", "kospi", "ktb3y", "cpi"]
MAX_MONTHS = 24
MAX_QUESTION_CHARS = 2000
Case = Literal["낙관", "기준", "비관"]


class ForecastRequest(BaseModel):
    """Which indicators, how many months ahead."""

    model_config = ConfigDict(extra="forbid")

    indicators: list[IndicatorKey] = Field(
        ..., min_length=1, max_length=5,
        description="지표 키: base_rate(기준금리), usd_krw(원/달러), kospi(KOSPI), ktb3y(국고채 3년), cpi(소비자물가지수)",
        examples=[["base_rate", "usd_krw"]],
    )
    months: int = Field(12, ge=1, le=MAX_MONTHS, description="예측 개월 수 (1~24)")
    history_months: int = Field(24, ge=0, le=120, description="함께 돌려줄 최근 관측 개월 수")

    @field_validator("indicators")
    @classmethod
    def _catalogue_order(cls, v: list[str]) -> list[str]:
        """Duplicates dropped and the catalogue's order used, so equal requests are equal (and
        share one cache entry) whatever order the client listed them in."""
        order = ("base_rate", "usd_krw", "kospi", "ktb3y", "cpi")
        return [k for k in order if k in set(v)]


class StreamRequest(ForecastRequest):
    """A forecast plus a free question for the summary and scenario narrative."""

    question: str = Field("", max_length=MAX_QUESTION_CHARS, description="자유 질문 (최대 2,000자)")
    user_id: str | None = Field(None, pattern=r"^U\d{7}$", examples=["U0000001"],
                                description="대화 기록을 남길 사용자 ID, U + 7자리 (없으면 anonymous)")


class HistoryPoint(BaseModel):
    month: str  # YYYY-MM
    value: float


class ForecastPoint(BaseModel):
    month: str  # YYYY-MM
    median: float
    p10: float  # lower end of the 80% interval
    p90: float  # upper end of the 80% interval


class HorizonSkill(BaseModel):
    n: int
    mase: float | None
    rel_mase: float | None
    mae: float | None
    coverage: float | None
    width: float | None
    raw_coverage: float | None = None


class BacktestSkill(BaseModel):
    """The served model's rolling-origin backtest: how good it was, in the user's terms."""

    model: str
    rel_mase: float | None = Field(description="MASE ÷ MASE(Naive), geometric mean over horizons 1/3/6/12 (< 1: beats Naive)")
    mase: float | None
    mae: float | None = Field(description="mean absolute error in the indicator's unit")
    coverage: float | None = Field(description="share of actuals inside the served (calibrated) 80% interval")
    raw_coverage: float | None = Field(None, description="the same for the model's own, uncalibrated interval")
    n: int = Field(description="scored (origin, horizon) forecasts")
    by_horizon: dict[str, HorizonSkill]


class IndicatorForecast(BaseModel):
    indicator: IndicatorKey
    name_ko: str
    unit: str
    model: str
    reason: str = Field(description="why the serving rule chose this model")
    as_of: str = Field(description="last observed month (YYYY-MM)")
    history: list[HistoryPoint]
    forecast: list[ForecastPoint]
    skill: BacktestSkill
    warning: str | None = None
    reason_ko: str = Field("", description="why this model, in plain Korean for customers (reason is the English one)")
    warning_ko: str | None = Field(None, description="the data-age note in plain Korean for customers")


class ForecastResponse(BaseModel):
    version: str = Field(description="published model version that produced these numbers")
    months: int
    indicators: list[IndicatorForecast]


class SummaryChunk(BaseModel):
    text: str


class ScenarioChunk(BaseModel):
    case: Case
    text: str


class StreamDone(BaseModel):
    cached: bool
    cache_layer: Literal["ingress", "forecaster"] | None = None  # which cache answered (None: computed)
    cacheable: bool = True  # False when a stage went offline because the model failed: not kept
    version: str
    log_id: str
    generators: dict[str, str]  # stage → offline | gemini | gemini→offline
    regenerated: dict[str, bool]
    fallback_reasons: dict[str, str]
    elapsed_ms: float


def finite_or_none(x: Any) -> float | None:
    """JSON has no NaN: unknown metrics become ``null``."""
    if x is None:
        return None
    f = float(x)
    return f if math.isfinite(f) else None


__all__ = [
    "BacktestSkill", "Case", "ForecastPoint", "ForecastRequest", "ForecastResponse", "HistoryPoint",
    "HorizonSkill", "IndicatorForecast", "IndicatorKey", "MAX_MONTHS", "MAX_QUESTION_CHARS",
    "ScenarioChunk", "StreamDone", "StreamRequest", "SummaryChunk", "finite_or_none",
]
