"""Which model is served for an indicator, decided by a fixed rule on backtest skill.

Rule (from the RiskXpert issue, applied per indicator over the horizons 1/3/6/12):

1. serve the **Transformer** only if its relative MASE vs Naive is < 1 (geometric mean over the
   horizons) **and** its 80% interval coverage (pooled over all scored forecasts) is within
   0.70–0.90 — a model that is accurate but whose intervals lie would mislead users about risk.
   Coverage is that of the **calibrated** interval (:mod:`finray.forecasting.calibration`),
   because that is the interval a user is shown;
2. otherwise serve the **baseline with the lowest MASE** (mean over horizons; Naive is a
   baseline, so where nothing beats the random walk, Naive is served and says so).

``pairwise=True`` (the default) adds the issue's other requirement to both steps: a model is
eligible only if its relMASE is ≤ 1 at **every** horizon, so no served (indicator, horizon) pair
is worse than the random walk. Naive (relMASE = 1 everywhere) is always eligible, so the rule
always has an answer. ``pairwise=False`` is the literal two-step rule above; the benchmark
reports both. (The pairwise guard was added after the first benchmark run showed the literal
rule serving ETS for base_rate with relMASE 1.44 at h = 1 — a rule change, not model tuning.)

The rule is fixed in advance and has no tunable part, so applying it to backtest results does not
tune anything on the test origins; its numbers are still in-sample for the *choice* (the best of
five is optimistic), which ``bench/forecast_backtest.py`` reports separately.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finray.forecasting.backtest import aggregate

TRANSFORMER = "patchtst"
COVERAGE_BAND: tuple[float, float] = (0.70, 0.90)


@dataclass(frozen=True)
class Skill:
    """Backtest skill of one model on one indicator (what the served forecast carries)."""

    model: str
    mase: float
    rel_mase: float
    mae: float
    coverage: float
    width: float
    n: int
    by_horizon: dict[int, dict[str, float]] = field(default_factory=dict)
    raw_coverage: float = float("nan")  # the model's own (uncalibrated) interval, for reference

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["by_horizon"] = {str(k): v for k, v in self.by_horizon.items()}
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Skill:
        return cls(**{**d, "by_horizon": {int(k): v for k, v in d.get("by_horizon", {}).items()}})


@dataclass(frozen=True)
class Choice:
    """The served model for an indicator, why, and the skill of every candidate."""

    model: str
    reason: str
    skill: Skill
    candidates: dict[str, Skill]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "reason": self.reason, "skill": self.skill.to_json(),
            "candidates": {k: v.to_json() for k, v in self.candidates.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Choice:
        return cls(d["model"], d["reason"], Skill.from_json(d["skill"]),
                   {k: Skill.from_json(v) for k, v in d["candidates"].items()})

    @property
    def reason_ko(self) -> str:
        """The reason in plain Korean, for customers (``reason`` stays the English one for logs)."""
        return korean_reason(self)


def skills(summary: pd.DataFrame, errors: pd.DataFrame | None = None) -> dict[str, Skill]:
    """Per-model :class:`Skill` from a :func:`~finray.forecasting.backtest.summarize` table."""
    agg = aggregate(summary, errors).set_index("model")
    out: dict[str, Skill] = {}
    for model, row in agg.iterrows():
        per_h = summary[summary["model"] == model].set_index("h")
        keys = [k for k in ("mase", "rel_mase", "mae", "coverage", "width", "n", "raw_coverage")
                if k in per_h.columns]
        by_h = {int(h): {k: _f(r[k]) for k in keys} for h, r in per_h.iterrows()}
        out[str(model)] = Skill(
            str(model), _f(row["mase"]), _f(row["rel_mase"]), _f(row["mae"]),
            _f(row["coverage"]), _f(row["width"]), int(row["n"]), by_h,
            _f(row["raw_coverage"]) if "raw_coverage" in row else float("nan"),
        )
    return out


def _f(x: Any) -> float:
    return float(x) if x is not None and np.isfinite(float(x)) else float("nan")


def worst_pair(skill: Skill) -> float:
    """The largest per-horizon relMASE (NaN-safe: a missing horizon counts as not beating Naive)."""
    vals = [h.get("rel_mase", float("nan")) for h in skill.by_horizon.values()]
    vals = [v if np.isfinite(v) else np.inf for v in vals]
    return max(vals) if vals else (skill.rel_mase if np.isfinite(skill.rel_mase) else np.inf)


def select(
    candidates: dict[str, Skill],
    transformer: str = TRANSFORMER,
    band: tuple[float, float] = COVERAGE_BAND,
    pairwise: bool = True,
) -> Choice:
    """Apply the serving rule to the candidates' skills (see the module docstring)."""
    tol = 1e-12  # Naive's own relMASE is 1 up to rounding

    def pair_ok(s: Skill) -> bool:
        return not pairwise or s.model == "naive" or worst_pair(s) <= 1.0 + tol

    t = candidates.get(transformer)
    if t is not None:
        ok_acc = np.isfinite(t.rel_mase) and t.rel_mase < 1.0
        ok_cov = band[0] <= t.coverage <= band[1]
        if ok_acc and ok_cov and pair_ok(t):
            return Choice(transformer, f"{transformer}: relMASE {t.rel_mase:.3f} < 1 and coverage "
                          f"{t.coverage:.2f} within {band[0]:.2f}–{band[1]:.2f}", t, candidates)
        why = (f"relMASE {t.rel_mase:.3f} ≥ 1" if not ok_acc else
               f"coverage {t.coverage:.2f} outside {band[0]:.2f}–{band[1]:.2f}" if not ok_cov else
               f"relMASE {worst_pair(t):.3f} > 1 at some horizon")
        prefix = f"{transformer} not served ({why}); "
    else:
        prefix = f"{transformer} not evaluated; "
    baselines = [s for name, s in candidates.items() if name != transformer and np.isfinite(s.mase)]
    if not baselines:
        raise ValueError("no baseline with a finite MASE to fall back on")
    eligible = [s for s in baselines if pair_ok(s)] or [s for s in baselines if s.model == "naive"] or baselines
    best = min(eligible, key=lambda s: (s.mase, s.model != "naive", s.model))
    skipped = sorted(s.model for s in baselines if s.mase < best.mase and s not in eligible)
    note = f"; lower-MASE {', '.join(skipped)} skipped (relMASE > 1 at some horizon)" if skipped else ""
    return Choice(best.model, prefix + f"lowest-MASE baseline {best.model} (MASE {best.mase:.3f}, "
                  f"relMASE {best.rel_mase:.3f}){note}", best, candidates)


#: Customer names of the models (no jargon): what each one does, not what it is called.
MODEL_KO: dict[str, str] = {
    "naive": "직전 값 유지 모델",
    "seasonal_naive": "작년 같은 달 기준 모델",
    "drift": "단순 추세 모델",
    "ets": "지수평활 모델",
    "patchtst": "AI 시계열 모델",
}


def model_ko(model: str) -> str:
    return MODEL_KO.get(model, "통계 예측 모델")


def korean_reason(choice: Choice, transformer: str = TRANSFORMER, band: tuple[float, float] = COVERAGE_BAND) -> str:
    """Why this model is served, in customer words: the same decision as :func:`select` explains in
    ``Choice.reason``, recomputed from the stored skills (so it works for already published versions).

    "예측 모델: 단순 추세 모델(과거 검증에서 가장 정확). AI 시계열 모델은 과거 검증에서 직전 값 유지보다
    정확하지 않아 쓰지 않았습니다."
    """
    name = model_ko(choice.model)
    if choice.model == transformer:
        return (f"예측 모델: {name}(과거 검증에서 직전 값 유지보다 정확하고, 예측 구간이 실제 값을 알맞게 담았음).")
    if choice.model == "naive":
        head = f"예측 모델: {name}(과거 검증에서 이보다 꾸준히 정확한 모델이 없어, 마지막 값이 이어진다고 봅니다)."
    else:
        head = f"예측 모델: {name}(과거 검증에서 가장 정확)."
    parts = [head]
    baselines = [s for m, s in choice.candidates.items() if m != transformer and np.isfinite(s.mase)]
    if choice.model != "naive" and any(s.mase < choice.skill.mase for s in baselines if s.model != choice.model):
        parts.append("오차가 평균적으로 더 작은 모델도 있었지만, 일부 예측 기간에서 직전 값 유지보다 부정확해 쓰지 않았습니다.")
    t = choice.candidates.get(transformer)
    if t is not None:
        t_name = model_ko(transformer)
        if not (np.isfinite(t.rel_mase) and t.rel_mase < 1.0):
            parts.append(f"{t_name}은 과거 검증에서 직전 값 유지보다 정확하지 않아 쓰지 않았습니다.")
        elif not band[0] <= t.coverage <= band[1]:
            parts.append(f"{t_name}은 예측 구간이 실제 값의 변동을 알맞게 담지 못해 쓰지 않았습니다.")
        else:
            parts.append(f"{t_name}은 일부 예측 기간에서 직전 값 유지보다 부정확해 쓰지 않았습니다.")
    return " ".join(parts)
