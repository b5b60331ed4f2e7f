"""Transforms, baselines, PatchTST, artifacts and the training job (small configs, seconds each)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from finray.forecasting import TrainConfig, train_indicator
from finray.forecasting.artifacts import (
    ArtifactError,
    load_latest,
    publish_version,
    staleness_warning,
)
from finray.forecasting.baselines import ETS, Drift, Naive, SeasonalNaive
from finray.forecasting.patchtst import PatchTST, PatchTSTSettings
from finray.forecasting.transforms import Transform
from finray.indicators.series import INDICATORS, load_bundled, usable_history

TINY = PatchTSTSettings(context_length=24, patch_length=6, patch_stride=6, d_model=16, num_heads=2,
                        num_layers=1, ffn_dim=32, steps=15, min_context=6, num_samples=100)


def monthly(values, start: str = "2020-01") -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=pd.period_range(start, periods=len(values), freq="M"))


# --- transforms ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", list(INDICATORS))
def test_transform_round_trip_reproduces_levels_exactly(key: str) -> None:
    ind = INDICATORS[key]
    levels = usable_history(load_bundled(key)).to_numpy()
    tf = Transform(ind.transform, ind.decimals)
    rebuilt = tf.rebuild(levels[0], tf.changes(levels))
    assert np.array_equal(rebuilt, levels)  # exact, not close
    assert tf.kind == ("diff" if key in ("base_rate", "ktb3y") else "logret")


def test_transform_kinds() -> None:
    x = np.array([100.0, 110.0, 99.0])
    assert np.allclose(Transform("logret").changes(x), np.log([1.1, 0.9]))
    assert np.allclose(Transform("diff").changes(x), [10.0, -11.0])
    with pytest.raises(ValueError):
        Transform("logret").changes(np.array([1.0, 0.0]))


# --- baselines -------------------------------------------------------------------------------
def test_naive_drift_seasonal_point_forecasts() -> None:
    lin = monthly(np.arange(24) * 2.0 + 5)
    assert np.array_equal(Naive().fit(lin).predict(3).median, [51.0, 51.0, 51.0])
    assert np.allclose(Drift().fit(lin).predict(3).median, [53.0, 55.0, 57.0])
    seas = monthly(np.tile(np.arange(12.0), 3))  # months 0..11 repeating
    sn = SeasonalNaive().fit(seas).predict(14)
    assert np.array_equal(sn.median, np.r_[np.arange(12.0), 0.0, 1.0])
    assert str(sn.index[0]) == "2023-01"


def test_bootstrap_intervals_are_ordered_widen_and_collapse_on_constant() -> None:
    rng = np.random.default_rng(1)
    walk = monthly(100 + np.cumsum(rng.normal(0, 1, 120)))
    fc = Naive(seed=3).fit(walk).predict(12)
    assert np.all(fc.p10 < fc.median) and np.all(fc.median < fc.p90)
    width = fc.p90 - fc.p10
    assert width[11] > 2.5 * width[0]  # ≈ sqrt(12) for a random walk
    assert np.allclose(Naive(seed=3).fit(walk).predict(12).p90, fc.p90)  # seeded
    flat = Naive().fit(monthly([2.5] * 30)).predict(6)
    assert np.array_equal(flat.p10, flat.p90)


def test_log_scale_models_stay_positive_and_geometric() -> None:
    growth = monthly(100 * 1.01 ** np.arange(60))
    fc = Drift(transform=Transform("logret")).fit(growth).predict(12)
    assert np.allclose(fc.median, 100 * 1.01 ** np.arange(60, 72))


def test_ets_damped_trend_follows_a_trend_with_an_interval() -> None:
    rng = np.random.default_rng(0)
    y = monthly(50 + 0.5 * np.arange(60) + rng.normal(0, 0.3, 60))
    model = ETS().fit(y)
    fc = model.predict(6)
    assert 79 < fc.median[0] < 81.5 and np.all(np.diff(fc.median) > 0)
    assert np.all(fc.p10 < fc.median) and np.all(fc.median < fc.p90)
    again = pickle.loads(pickle.dumps(model)).predict(6)  # rebuilt from params, no refit
    assert np.allclose(again.median, fc.median)


# --- PatchTST --------------------------------------------------------------------------------
def test_patchtst_trains_deterministically_and_restores_from_state_dict() -> None:
    hist = usable_history(load_bundled("cpi"))
    tf = Transform("logret", 3)
    a = PatchTST(transform=tf, seed=7, settings=TINY).fit(hist)
    b = PatchTST(transform=tf, seed=7, settings=TINY).fit(hist)
    fa, fb = a.predict(12), b.predict(12)
    assert np.array_equal(fa.median, fb.median) and np.array_equal(fa.p90, fb.p90)
    assert np.isfinite(a.final_loss)
    assert str(fa.index[0]) == "2026-01" and len(fa.index) == 12
    assert np.all(fa.p10 <= fa.median) and np.all(fa.median <= fa.p90) and np.all(fa.p90 > fa.p10)
    # levels are rebuilt around the last CPI (117.57), not standardized units
    assert 100 < fa.median[0] < 135
    restored = PatchTST.from_bytes(a.to_bytes()).predict(12)
    assert np.array_equal(restored.median, fa.median)
    c = PatchTST(transform=tf, seed=8, settings=TINY).fit(hist).predict(12)
    assert not np.array_equal(c.p90, fa.p90)  # the seed matters, so the equality above means something


def test_patchtst_scaling_uses_only_the_training_history() -> None:
    hist = usable_history(load_bundled("base_rate"))
    m = PatchTST(transform=Transform("diff", 2), settings=TINY).fit(hist.iloc[:50])
    d = np.diff(hist.iloc[:50].to_numpy())
    assert m.mu == pytest.approx(d.mean()) and m.sigma == pytest.approx(d.std())


# --- artifacts --------------------------------------------------------------------------------
CFG = TrainConfig(n_origins=12, models=("naive", "drift", "patchtst"), patchtst=TINY,
                  patchtst_retrain_every=4)


@pytest.fixture(scope="module")
def trained_cpi():
    return train_indicator("cpi", usable_history(load_bundled("cpi")), CFG)


def test_publish_and_load_latest(tmp_path, trained_cpi) -> None:
    with pytest.raises(ArtifactError):
        load_latest(tmp_path)
    t0 = datetime(2026, 11, 22, 3, 4, 5, tzinfo=UTC)
    v1 = publish_version(tmp_path / "models", [trained_cpi], created_at=t0)
    assert v1.startswith("20261122T030405Z-") and len(v1) == len("20261122T030405Z-") + 8
    bundle = load_latest(tmp_path)
    assert bundle.version == v1 and bundle.indicators == ["cpi"]
    res = bundle.forecast("cpi", 6, history_months=12)
    assert res.model == trained_cpi.choice.model and res.as_of == "2025-12"
    assert res.months == [f"2026-{m:02d}" for m in range(1, 7)]
    assert len(res.median) == len(res.p10) == len(res.p90) == 6 and len(res.history) == 12
    assert res.history[-1] == ("2025-12", 117.57)
    assert res.skill["model"] == res.model and {"1", "3", "6", "12"} <= set(res.skill["by_horizon"])
    assert res.unit == "2020=100" and "history ends 2025-12" in res.warning  # 11 months before t0
    assert len(bundle.forecast("cpi", 24).months) == 24  # requests may ask for 1..24 months
    with pytest.raises(ValueError):
        bundle.forecast("cpi", 25)
    # the stored model predicts the stored forecast again; the served interval is its own interval
    # scaled by the stored per-horizon calibration factors
    from finray.forecasting.calibration import calibrate_forecast

    factors = bundle.calibration("cpi")
    assert sorted(factors) == list(range(1, 25)) and all(f.factor > 0 for f in factors.values())
    raw = bundle.load_forecaster("cpi").predict(24)
    served = calibrate_forecast(raw, factors, Transform("logret", 3))
    full = bundle.forecast("cpi", 24)
    assert np.allclose(raw.median, full.median)
    assert np.allclose(served.p10, full.p10) and np.allclose(served.p90, full.p90)
    assert res.skill["raw_coverage"] == res.skill["raw_coverage"]  # recorded (not NaN)
    # same content, later time → new version, same hash suffix; latest moves
    v2 = publish_version(tmp_path / "models", [trained_cpi], created_at=datetime(2026, 11, 23, tzinfo=UTC))
    assert v2 != v1 and v2[-8:] == v1[-8:]
    assert (tmp_path / "models" / "latest").read_text().strip() == v2
    manifest = json.loads((tmp_path / "models" / v2 / "manifest.json").read_text())
    assert set(manifest["files"]) == {"cpi/choice.json", "cpi/backtest.csv", "cpi/summary.csv",
                                      f"cpi/{'model.pt' if res.model == 'patchtst' else 'model.pkl'}"}
    bt = bundle.backtest("cpi")
    assert bt["origin"].nunique() == 12 + 24  # scored origins + the calibration origins before them
    assert bt.loc[bt["scored"], "origin"].nunique() == 12


def test_staleness_warning_for_old_history() -> None:
    assert "2018-04" in staleness_warning("2018-04", "2026-11-22T00:00:00+00:00")
    assert staleness_warning("2026-10", "2026-11-22T00:00:00+00:00") is None


@pytest.mark.ray
def test_train_forecaster_job_publishes_a_version(ray_session, make_settings) -> None:
    from data_jobs import train_forecaster

    settings = make_settings()
    cfg = TrainConfig(n_origins=12, models=("naive", "drift", "patchtst"), patchtst=TINY,
                      patchtst_retrain_every=6)
    res = train_forecaster.run(settings, indicators=["base_rate", "usd_krw"], config=cfg)
    assert res.error is None and res.counts == {"trained": 2, "failed": 0}
    bundle = load_latest(settings.home)
    assert bundle.indicators == ["base_rate", "usd_krw"]
    assert bundle.version == res.details[0]["version"]
    assert bundle.manifest["config"]["n_origins"] == 12 and bundle.manifest["skipped_models"] == {}
    fc = bundle.forecast("base_rate", 12)
    assert fc.as_of == "2025-12" and fc.months[-1] == "2026-12"
    assert all(lo <= m <= hi for lo, m, hi in zip(fc.p10, fc.median, fc.p90, strict=True))
    # fixed seeds: retraining an indicator on the same input gives byte-identical files
    res2 = train_forecaster.run(settings, indicators=["base_rate"], config=cfg)
    again = load_latest(settings.home)
    assert again.version == res2.details[0]["version"] != bundle.version
    files = {k: v for k, v in bundle.manifest["files"].items() if k.startswith("base_rate/")}
    assert len(files) == 4 and files == again.manifest["files"]


def test_models_without_their_packages_are_left_out(monkeypatch) -> None:
    """A clone without the `forecast` extra still trains the baselines (and says what it skipped)."""
    import importlib.util

    from finray.forecasting import MODELS, available_models

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("torch", "statsmodels") else real(name, *a))
    ok, skipped = available_models(MODELS)
    assert ok == ("naive", "seasonal_naive", "drift")
    assert set(skipped) == {"ets", "patchtst"} and "torch" in skipped["patchtst"]
    monkeypatch.setattr(importlib.util, "find_spec", real)
    assert available_models(MODELS) == (MODELS, {})
