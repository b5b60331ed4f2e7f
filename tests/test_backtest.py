"""Backtest hygiene (no look-ahead), metrics on hand-computed series, and the serving rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from finray.forecasting import TrainConfig, make_model
from finray.forecasting.backtest import (
    aggregate,
    backtest_model,
    naive_scale,
    rolling_origins,
    run_backtest,
    summarize,
)
from finray.forecasting.baselines import Drift, Naive
from finray.forecasting.calibration import (
    HorizonFactor,
    calibrate_backtest,
    calibrate_forecast,
    conformal_factor,
    scores,
    serving_factors,
)
from finray.forecasting.patchtst import PatchTSTSettings
from finray.forecasting.selection import Skill, select, skills
from finray.forecasting.transforms import Transform
from finray.indicators.series import load_bundled, usable_history

TINY = PatchTSTSettings(context_length=24, patch_length=6, patch_stride=6, d_model=16, num_heads=2,
                        num_layers=1, ffn_dim=32, steps=10, min_context=6, num_samples=100)


def monthly(values, start: str = "2020-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


# --- no look-ahead ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["naive", "seasonal_naive", "drift", "ets", "patchtst"])
def test_planted_future_spike_does_not_change_earlier_forecasts(name: str) -> None:
    series = usable_history(load_bundled("cpi"))
    cfg = TrainConfig(seed=5, patchtst=TINY)
    tf = Transform("logret", 3)
    origins = rolling_origins(len(series), n_origins=8, min_train=36)
    spike_at = origins[4]  # the month right after origin[4]'s history ends
    spiked = series.copy()
    spiked.iloc[spike_at] *= 50.0  # a huge, obviously-wrong value after the cutoff

    def make():
        return make_model(name, tf, cfg)

    horizons = range(1, 7)
    clean = backtest_model(series, name, make, origins, horizons, retrain_every=2 if name == "patchtst" else 1)
    dirty = backtest_model(spiked, name, make, origins, horizons, retrain_every=2 if name == "patchtst" else 1)
    # interval calibration must not peek either: factors at an origin use only resolved forecasts
    clean = calibrate_backtest(clean, tf, min_n=2)
    dirty = calibrate_backtest(dirty, tf, min_n=2)
    cols = ["origin", "h", "median", "raw_p10", "raw_p90", "scale", "cal_factor", "cal_n", "p10", "p90"]
    before = clean["origin_idx"] <= spike_at
    pd.testing.assert_frame_equal(clean.loc[before, cols].reset_index(drop=True),
                                  dirty.loc[before, cols].reset_index(drop=True))
    assert (clean.loc[before, "cal_n"] > 0).any()  # calibration was active before the spike
    # ... while the spike is visible to every later origin (so the check above is not vacuous)
    after = clean["origin_idx"] > spike_at
    assert not np.allclose(clean.loc[after, "scale"], dirty.loc[after, "scale"])
    assert not np.allclose(clean.loc[after, "cal_factor"], dirty.loc[after, "cal_factor"])


# --- metrics on hand-computed series ------------------------------------------------------------
def test_mase_mae_relmase_by_hand() -> None:
    y = monthly([0, 1, 3, 6, 10, 15])
    origins = rolling_origins(len(y), n_origins=2, min_train=4)
    assert origins == [4, 5]
    assert naive_scale(np.array([0, 1, 3, 6])) == 2.0
    err = run_backtest(y, {"naive": lambda: Naive(), "drift": lambda: Drift()}, horizons=(1,),
                       n_origins=2, min_train=4)
    # naive: forecasts 6 and 10 for actuals 10 and 15 → |e| = 4, 5; scales 2 and 2.5 → 2, 2
    # drift: slopes 2 and 2.5 → forecasts 8, 12.5 → |e| = 2, 2.5 → scaled 1, 1
    s = summarize(err).set_index("model")
    assert s.loc["naive", "mase"] == pytest.approx(2.0) and s.loc["naive", "mae"] == pytest.approx(4.5)
    assert s.loc["drift", "mase"] == pytest.approx(1.0) and s.loc["drift", "mae"] == pytest.approx(2.25)
    assert s.loc["drift", "rel_mase"] == pytest.approx(0.5) and s.loc["naive", "rel_mase"] == 1.0
    assert list(err.loc[err["model"] == "naive", "origin"]) == ["2020-04", "2020-05"]  # last month seen


def test_coverage_width_and_aggregation_by_hand() -> None:
    rows = []
    for model, covered, width, scaled in [("naive", [1, 1, 0, 1], 2.0, [1, 1, 1, 1]),
                                          ("m", [1, 0, 0, 0], 1.0, [0.5, 0.5, 2, 2])]:
        for i, c in enumerate(covered):
            rows.append({"model": model, "h": 1 if i < 2 else 3, "covered": bool(c), "width": width,
                         "abs_err": scaled[i], "scaled_err": scaled[i]})
    err = pd.DataFrame(rows)
    s = summarize(err).set_index(["model", "h"])
    assert s.loc[("naive", 3), "coverage"] == 0.5 and s.loc[("m", 1), "coverage"] == 0.5
    assert s.loc[("m", 1), "rel_mase"] == 0.5 and s.loc[("m", 3), "rel_mase"] == 2.0
    agg = aggregate(summarize(err), err).set_index("model")
    assert agg.loc["m", "rel_mase"] == pytest.approx(1.0)  # geometric mean of 0.5 and 2
    assert agg.loc["m", "coverage"] == 0.25 and agg.loc["naive", "coverage"] == 0.75
    assert agg.loc["m", "width"] == 1.0


def test_enough_origins_for_every_horizon() -> None:
    origins = rolling_origins(84, n_origins=24, min_train=36)
    for h, expected in [(1, 24), (3, 22), (6, 19), (12, 13)]:
        assert sum(o + h - 1 < 84 for o in origins) == expected >= 12


# --- selection rule -------------------------------------------------------------------------
def _skill(model: str, mase: float, rel: float, cov: float) -> Skill:
    return Skill(model, mase, rel, mae=mase, coverage=cov, width=1.0, n=10)


def test_transformer_served_only_when_accurate_and_calibrated() -> None:
    base = {"naive": _skill("naive", 1.0, 1.0, 0.8), "drift": _skill("drift", 0.95, 0.95, 0.99),
            "ets": _skill("ets", 0.97, 0.97, 0.8)}
    ok = select({**base, "patchtst": _skill("patchtst", 0.9, 0.9, 0.80)})
    assert ok.model == "patchtst" and ok.skill.rel_mase == 0.9
    too_wide = select({**base, "patchtst": _skill("patchtst", 0.5, 0.5, 0.95)})
    assert too_wide.model == "drift" and "coverage 0.95 outside" in too_wide.reason
    too_narrow = select({**base, "patchtst": _skill("patchtst", 0.5, 0.5, 0.65)})
    assert too_narrow.model == "drift"
    inaccurate = select({**base, "patchtst": _skill("patchtst", 1.05, 1.05, 0.8)})
    assert inaccurate.model == "drift" and "relMASE 1.050 ≥ 1" in inaccurate.reason
    edge = select({**base, "patchtst": _skill("patchtst", 0.9, 0.9, 0.70)})
    assert edge.model == "patchtst"  # the band is inclusive


def _skill_h(model: str, mase: float, rels: list[float], cov: float = 0.8) -> Skill:
    by_h = {h: {"rel_mase": r} for h, r in zip((1, 3, 6, 12), rels, strict=True)}
    geo = float(np.exp(np.mean(np.log(rels))))
    return Skill(model, mase, geo, mae=mase, coverage=cov, width=1.0, n=10, by_horizon=by_h)


def test_pairwise_guard_never_serves_a_horizon_worse_than_naive() -> None:
    cands = {"naive": _skill_h("naive", 4.8, [1, 1, 1, 1]),
             "ets": _skill_h("ets", 4.4, [1.44, 0.83, 0.82, 0.94]),  # base_rate's real shape
             "drift": _skill_h("drift", 6.7, [1.4, 1.4, 1.4, 1.4]),
             "patchtst": _skill_h("patchtst", 4.0, [0.9, 0.8, 1.1, 0.7])}
    literal = select(cands, pairwise=False)
    assert literal.model == "patchtst"  # geo relMASE < 1, coverage in band
    strict = select(cands)
    assert strict.model == "naive" and "ets skipped" in strict.reason
    assert "relMASE 1.100 > 1 at some horizon" in strict.reason
    cands["drift"] = _skill_h("drift", 4.6, [0.99, 0.97, 1.0, 0.9])
    assert select(cands).model == "drift"  # ≤ 1 everywhere, lower MASE than Naive


def test_naive_is_served_when_nothing_beats_it() -> None:
    cands = {"naive": _skill("naive", 1.0, 1.0, 0.8), "drift": _skill("drift", 1.2, 1.2, 0.8),
             "ets": _skill("ets", 1.0, 1.0, 0.8), "patchtst": _skill("patchtst", 1.3, 1.3, 0.8)}
    choice = select(cands)
    assert choice.model == "naive" and choice.skill.rel_mase == 1.0  # ties go to Naive
    assert set(choice.candidates) == set(cands)


def test_skills_from_a_real_backtest_carry_every_horizon() -> None:
    y = usable_history(load_bundled("usd_krw"))
    err = run_backtest(y, {"naive": lambda: Naive(transform=Transform("logret", 2)),
                           "drift": lambda: Drift(transform=Transform("logret", 2))},
                       n_origins=12)
    sk = skills(summarize(err), err)
    assert set(sk["drift"].by_horizon) == {1, 3, 6, 12}
    assert sk["naive"].rel_mase == pytest.approx(1.0)
    assert sk["drift"].n == len(err[(err["model"] == "drift") & err["scored"]])
    roundtrip = Skill.from_json(sk["drift"].to_json())
    assert roundtrip == sk["drift"]


# --- interval calibration ---------------------------------------------------------------------
def test_conformal_factor_rank() -> None:
    assert conformal_factor([2.0, 0.5, 1.5, 1.0]) == 2.0  # ⌈5·0.8⌉ = 4th of 4
    assert conformal_factor(range(1, 25)) == 20.0  # ⌈25·0.8⌉ = 20th of 24 → covers 20/25 = 0.80
    assert conformal_factor([]) == 1.0
    assert conformal_factor([float("inf")] * 5) == 100.0  # a collapsed interval stays finite


def test_scores_are_side_wise_half_widths() -> None:
    tf = Transform("diff")
    s = scores(np.array([12.0, 8.0, 10.0, 20.0]), np.full(4, 10.0), np.full(4, 6.0), np.full(4, 11.0), tf)
    assert np.allclose(s, [2.0, 0.5, 0.0, 10.0])  # upper half-width 1, lower 4


def _synthetic_rows(n: int, seed: int, half: float) -> pd.DataFrame:
    """One model, h = 1, iid N(0, 1) actuals around a median of 0 with an interval ±half."""
    y = np.random.default_rng(seed).standard_normal(n)
    return pd.DataFrame({"model": "m", "origin_idx": np.arange(n) + 10, "h": 1, "actual": y,
                         "median": 0.0, "p10": -half, "p90": half,
                         "covered": np.abs(y) <= half, "width": 2 * half})


def test_calibration_repairs_a_too_narrow_interval_out_of_sample() -> None:
    rows = _synthetic_rows(400, seed=3, half=0.64)  # the true 80% half-width is 1.28
    cal = calibrate_backtest(rows, Transform("diff"), window=48)
    later = cal[cal["cal_n"] == 48]
    assert later["raw_covered"].mean() == pytest.approx(0.48, abs=0.06)
    assert later["covered"].mean() == pytest.approx(0.80, abs=0.06)
    assert later["cal_factor"].median() == pytest.approx(2.0, abs=0.3)
    # early rows with fewer than MIN_RESIDUALS resolved forecasts keep the model's own interval
    first = cal.iloc[0]
    assert first["cal_n"] == 0 and first["cal_factor"] == 1.0 and first["p90"] == 0.64


def test_calibration_shrinks_a_too_wide_interval_and_keeps_asymmetry() -> None:
    rows = _synthetic_rows(200, seed=4, half=3.0)
    rows["p10"] = -6.0  # lower side twice as wide as the upper one
    cal = calibrate_backtest(rows, Transform("diff"))
    last = cal.iloc[-1]
    assert last["cal_factor"] < 1.0 and last["raw_covered"] is not None
    assert (0 - last["p10"]) == pytest.approx(2 * (last["p90"] - 0), rel=1e-9)


def test_serving_factors_use_raw_intervals_and_scale_on_the_log_scale() -> None:
    rows = _synthetic_rows(60, seed=5, half=0.64)
    cal = calibrate_backtest(rows, Transform("diff"))
    f = serving_factors(cal, "m", [1, 2], Transform("diff"))
    direct = conformal_factor(np.abs(rows["actual"].to_numpy()[-24:]) / 0.64)
    assert f[1].factor == pytest.approx(direct) and f[1].n == 24
    assert f[2].n == 24  # h = 2 borrows its neighbour h = 1 (spread 1)
    from finray.forecasting.transforms import Forecast

    fc = Forecast(pd.period_range("2026-01", periods=2, freq="M"), np.array([100.0, 100.0]),
                  np.array([90.0, 80.0]), np.array([110.0, 125.0]))
    out = calibrate_forecast(fc, {1: HorizonFactor(2.0, 24), 2: HorizonFactor(0.5, 24)}, Transform("logret"))
    assert np.allclose(out.median, fc.median)
    assert out.p10[0] == pytest.approx(100 * (0.9 ** 2)) and out.p90[0] == pytest.approx(100 * 1.1 ** 2)
    assert out.p10[1] == pytest.approx(100 * 0.8 ** 0.5) and out.p90[1] == pytest.approx(100 * 1.25 ** 0.5)


def test_scored_rows_are_the_last_origins_at_metric_horizons() -> None:
    y = usable_history(load_bundled("usd_krw"))
    err = run_backtest(y, {"naive": lambda: Naive(transform=Transform("logret", 2))}, n_origins=12,
                       n_calibration=6, record_months=24)
    assert err["origin_idx"].nunique() == 18
    assert err["h"].max() == 18  # rows only where the actual is known: first origin 66 of 84 months
    scored = err[err["scored"]]
    assert scored["origin_idx"].nunique() == 12 and set(scored["h"]) == {1, 3, 6, 12}
    assert scored["origin_idx"].min() == len(y) - 12
    s = summarize(err).set_index("h")
    assert s.loc[1, "n"] == 12 and s.loc[12, "n"] == 1
