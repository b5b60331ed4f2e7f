"""``train_forecaster``: backtest, select and fit one forecaster per indicator; publish a version.

Each indicator is one Ray task (``num_cpus=1``, fixed seed, torch single-threaded inside), so the
five indicators train in parallel across the cluster's CPUs and the same inputs give the same
artifact. Inputs are the series ``collect_indicators`` wrote under ``<home>/indicators``; an
indicator it has not written falls back to the bundled series (recorded in the manifest as
``input: bundled``). Only the gap-free tail of each series is used (see ``usable_history``).

Models whose optional packages are missing (PatchTST without torch/transformers, ETS without
statsmodels — the ``forecast`` extra) are left out and listed in the manifest's
``skipped_models``, so a fresh clone still trains and serves the baselines.

The driver publishes all successful indicators as one version under ``storage_uri`` (default
``FINRAY_MODEL_STORAGE_URI``, else ``<home>/models``) and moves ``latest``; an indicator whose task failed is reported in the job
error and left out — serving keeps answering from the previous version until a run succeeds for
every indicator it needs.
"""

from __future__ import annotations

import pickle
import platform
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from data_jobs.runtime import JobResult, ensure_ray, timed
from finray.config import Settings, load_settings
from finray.forecasting import TrainConfig, available_models, train_indicator
from finray.forecasting.artifacts import TrainedIndicator, publish_version
from finray.indicators.series import INDICATORS, load_bundled, load_collected, usable_history


def input_series(home: Path, key: str) -> tuple[pd.Series, str]:
    """The collected series (or the bundled one if not collected yet) and where it came from."""
    collected = load_collected(home, key)
    if collected is not None:
        return collected, "collected"
    return load_bundled(key), "bundled"


def train_one(key: str, series: pd.Series, config: TrainConfig) -> bytes:
    """Pure per-indicator work (the body of the Ray task); pickled result for the driver."""
    trained = train_indicator(key, usable_history(series), config)
    return pickle.dumps(trained)


@ray.remote(num_cpus=1, max_retries=0)
def _train_task(key: str, series: pd.Series, config: TrainConfig) -> bytes:
    import torch

    torch.set_num_threads(1)
    return train_one(key, series, config)


def run(
    settings: Settings | None = None,
    *,
    indicators: list[str] | None = None,
    config: TrainConfig | None = None,
    storage_uri: str | None = None,
    now: datetime | None = None,
) -> JobResult:
    settings = settings or load_settings()
    config = config or TrainConfig()
    models, skipped = available_models(config.models)
    if skipped:
        config = replace(config, models=models)
    keys = indicators or list(INDICATORS)
    unknown = [k for k in keys if k not in INDICATORS]
    if unknown:
        raise ValueError(f"unknown indicator(s) {unknown}; known: {', '.join(INDICATORS)}")
    home = Path(settings.home)
    uri = storage_uri or settings.model_storage_uri or str(home / "models")
    result = JobResult(job="train_forecaster")
    with timed(result):
        ensure_ray()
        inputs = {k: input_series(home, k) for k in keys}
        refs = {k: _train_task.remote(k, inputs[k][0], config) for k in keys}
        trained: list[TrainedIndicator] = []
        errors: list[str] = []
        for k, ref in refs.items():
            try:
                t: TrainedIndicator = pickle.loads(ray.get(ref))
            except Exception as exc:  # a task failure is data for the report, not a crash
                errors.append(f"{k}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                continue
            t.meta["input"] = inputs[k][1]
            trained.append(t)
            s = t.choice.skill
            result.details.append({
                "indicator": k, "model": t.choice.model, "rel_mase": round(s.rel_mase, 3),
                "coverage": round(s.coverage, 3), "as_of": str(t.history.index[-1]),
                "input": inputs[k][1], "reason": t.choice.reason,
            })
        version = None
        if trained:
            version = publish_version(
                uri, trained, created_at=now,
                extra={"config": _config_json(config), "runtime": _runtime(), "skipped_models": skipped},
            )
        result.counts = {"trained": len(trained), "failed": len(errors)}
        result.records = len(trained)
        if version:
            result.details.insert(0, {"version": version, "storage_uri": uri,
                                      **({"skipped_models": skipped} if skipped else {})})
        if errors:
            result.error = "; ".join(errors)
    return result


def _config_json(config: TrainConfig) -> dict[str, Any]:
    return config.to_json()


def _runtime() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "ray": ray.__version__}
    for pkg in ("torch", "transformers", "statsmodels"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


__all__ = ["run", "train_one", "input_series"]
