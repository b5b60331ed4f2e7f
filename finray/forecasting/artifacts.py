"""Versioned forecaster artifacts: publish a trained set, load the latest for serving.

Layout under a storage root (default ``settings.home / "models"``; any ``pyarrow.fs`` URI such as
``s3://bucket/finray/models`` works the same)::

    <root>/<version>/manifest.json            what is inside + sha256 of every file
    <root>/<version>/<indicator>/choice.json  served model, reason, skill, calibrated forecast
                                              (24 months), calibration factors, history
    <root>/<version>/<indicator>/backtest.csv every backtest (model, origin, horizon) forecast,
                                              raw and calibrated interval, ``scored`` flag
    <root>/<version>/<indicator>/summary.csv  per model × horizon metrics
    <root>/<version>/<indicator>/model.pt     PatchTST (torch state dict) — or model.pkl (baseline)
    <root>/latest                             the current version's name

``version`` is ``<UTC timestamp>-<8 hex of the content hash>``: sortable, and two runs that
produced identical artifacts are recognisably identical. The manifest is written after every
other file of the version and ``latest`` last (atomically: temp file + rename on local disks, a
single-object PUT on object stores), so a reader never follows ``latest`` into a half-written
version.

Serving reads precomputed forecasts (``choice.json``) — no torch needed at request time;
:meth:`ModelBundle.load_forecaster` restores the fitted model when a recomputation is wanted.
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.fs as pafs

from finray.forecasting.selection import Choice
from finray.forecasting.transforms import Forecast

LATEST = "latest"


@dataclass
class TrainedIndicator:
    """Everything the training job produced for one indicator."""

    key: str
    choice: Choice
    errors: pd.DataFrame
    summary: pd.DataFrame
    history: pd.Series
    forecast: Forecast  # the served model's forecast from the end of ``history``
    model_bytes: bytes
    model_format: str  # "torch" | "pickle"
    meta: dict[str, Any] = field(default_factory=dict)  # deterministic facts (hashed)
    timings: dict[str, float] = field(default_factory=dict)  # wall-clock (manifest only, not hashed)
    raw_forecast: Forecast | None = None  # the model's own interval, before calibration
    calibration: dict[int, dict[str, float]] = field(default_factory=dict)  # h → factor, n


@dataclass(frozen=True)
class ForecastResult:
    """What serving shows for ``indicator``: recent history, the forecast path and its skill."""

    indicator: str
    name_ko: str
    unit: str
    model: str
    reason: str
    version: str
    as_of: str  # last observed month (YYYY-MM)
    history: list[tuple[str, float]]  # tail, oldest first
    months: list[str]
    median: list[float]
    p10: list[float]
    p90: list[float]
    skill: dict[str, Any]  # served model's backtest skill (see selection.Skill)
    warning: str | None = None  # e.g. the data ends long before the training date
    reason_ko: str = ""  # ``reason`` in customer words (Korean)
    warning_ko: str | None = None  # ``warning`` in customer words (Korean)


# --- storage ---------------------------------------------------------------------------------
def _fs(storage_uri: str | Path) -> tuple[pafs.FileSystem, str]:
    uri = str(storage_uri)
    if "://" in uri and not uri.startswith("file://"):
        return pafs.FileSystem.from_uri(uri)
    path = uri.removeprefix("file://")
    return pafs.LocalFileSystem(), str(Path(path).resolve())


def _write(fs: pafs.FileSystem, path: str, data: bytes) -> None:
    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with fs.open_output_stream(path) as out:
        out.write(data)


def _read(fs: pafs.FileSystem, path: str) -> bytes:
    with fs.open_input_stream(path) as f:
        return f.read()


def _exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True, allow_nan=True) + "\n").encode()


def _csv(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, float_format="%.10g").encode()


# --- publish -----------------------------------------------------------------------------------
def indicator_files(t: TrainedIndicator) -> dict[str, bytes]:
    """The files of one indicator, relative to the version directory."""
    hist = [[str(m), float(v)] for m, v in t.history.items()]
    choice = {
        **t.choice.to_json(),
        "indicator": t.key,
        "as_of": str(t.history.index[-1]),
        "history": hist,
        "forecast": {
            "months": [str(m) for m in t.forecast.index],
            "median": [float(x) for x in t.forecast.median],
            "p10": [float(x) for x in t.forecast.p10],
            "p90": [float(x) for x in t.forecast.p90],
        },
        "model_file": "model.pt" if t.model_format == "torch" else "model.pkl",
        "meta": t.meta,
        "calibration": {str(h): v for h, v in sorted(t.calibration.items())},
    }
    if t.raw_forecast is not None:
        choice["forecast_raw"] = {
            "p10": [float(x) for x in t.raw_forecast.p10],
            "p90": [float(x) for x in t.raw_forecast.p90],
        }
    return {
        f"{t.key}/choice.json": _json(choice),
        f"{t.key}/backtest.csv": _csv(t.errors),
        f"{t.key}/summary.csv": _csv(t.summary),
        f"{t.key}/{choice['model_file']}": t.model_bytes,
    }


def content_hash(files: dict[str, bytes]) -> str:
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


def publish_version(
    storage_uri: str | Path,
    trained: list[TrainedIndicator],
    *,
    created_at: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a new version and point ``latest`` at it; return the version name."""
    if not trained:
        raise ValueError("nothing to publish")
    created_at = (created_at or datetime.now(UTC)).astimezone(UTC)
    files: dict[str, bytes] = {}
    for t in trained:
        files.update(indicator_files(t))
    digest = content_hash(files)
    version = f"{created_at:%Y%m%dT%H%M%SZ}-{digest[:8]}"
    fs, root = _fs(storage_uri)
    for name, data in sorted(files.items()):
        _write(fs, f"{root}/{version}/{name}", data)
    manifest = {
        "version": version,
        "created_at": created_at.isoformat(),
        "content_sha256": digest,
        "indicators": {
            t.key: {"model": t.choice.model, "as_of": str(t.history.index[-1]), "seconds": t.timings}
            for t in trained
        },
        "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())},
        **(extra or {}),
    }
    _write(fs, f"{root}/{version}/manifest.json", _json(manifest))
    _point_latest(fs, root, version)
    return version


def _point_latest(fs: pafs.FileSystem, root: str, version: str) -> None:
    target = f"{root}/{LATEST}"
    if isinstance(fs, pafs.LocalFileSystem):
        tmp = f"{root}/.{LATEST}.{version}.tmp"
        _write(fs, tmp, (version + "\n").encode())
        fs.move(tmp, target)  # rename(2): atomic on one filesystem
    else:
        _write(fs, target, (version + "\n").encode())  # one PUT: atomic on object stores


# --- load ------------------------------------------------------------------------------------
class ArtifactError(RuntimeError):
    """No usable model version at the storage location."""


@dataclass
class ModelBundle:
    """One published version: served choices and forecasts per indicator."""

    storage_uri: str
    version: str
    manifest: dict[str, Any]
    choices: dict[str, dict[str, Any]]  # indicator → choice.json

    @property
    def indicators(self) -> list[str]:
        return sorted(self.choices)

    def forecast(self, indicator: str, months: int = 12, history_months: int = 24) -> ForecastResult:
        """The served (calibrated) forecast for the next ``months`` months after the last observation."""
        from finray.indicators.series import INDICATORS

        if indicator not in self.choices:
            raise KeyError(f"no model for {indicator!r} in version {self.version}; "
                           f"have {', '.join(self.indicators)}")
        c = self.choices[indicator]
        fc = c["forecast"]
        if not 1 <= months <= len(fc["months"]):
            raise ValueError(f"months must be 1..{len(fc['months'])}, got {months}")
        ind = INDICATORS.get(indicator)
        hist = [(str(m), float(v)) for m, v in c["history"][-history_months:]] if history_months > 0 else []
        return ForecastResult(
            indicator=indicator,
            name_ko=ind.name_ko if ind else indicator,
            unit=ind.unit if ind else "",
            model=c["model"],
            reason=c["reason"],
            version=self.version,
            as_of=c["as_of"],
            history=hist,
            months=fc["months"][:months],
            median=fc["median"][:months],
            p10=fc["p10"][:months],
            p90=fc["p90"][:months],
            skill=c["skill"],
            warning=staleness_warning(c["as_of"], self.manifest.get("created_at")),
            reason_ko=_reason_ko(c),
            warning_ko=staleness_note_ko(c["as_of"], self.manifest.get("created_at")),
        )

    def load_forecaster(self, indicator: str) -> Any:
        """The fitted served model (PatchTST from its state dict, baselines unpickled).

        Its ``predict`` gives the model's own interval; apply :meth:`calibration` with
        :func:`~finray.forecasting.calibration.calibrate_forecast` to get the served one.
        """
        fs, root = _fs(self.storage_uri)
        c = self.choices[indicator]
        data = _read(fs, f"{root}/{self.version}/{indicator}/{c['model_file']}")
        if c["model_file"].endswith(".pt"):
            from finray.forecasting.patchtst import PatchTST

            return PatchTST.from_bytes(data)
        return pickle.loads(data)

    def calibration(self, indicator: str) -> dict[int, Any]:
        """Per-horizon interval factors of the served model (see ``finray.forecasting.calibration``)."""
        from finray.forecasting.calibration import HorizonFactor

        cal = self.choices[indicator].get("calibration") or {}
        return {int(h): HorizonFactor(float(v["factor"]), int(v["n"])) for h, v in cal.items()}

    def backtest(self, indicator: str) -> pd.DataFrame:
        fs, root = _fs(self.storage_uri)
        return pd.read_csv(io.BytesIO(_read(fs, f"{root}/{self.version}/{indicator}/backtest.csv")))

    def summary(self, indicator: str) -> pd.DataFrame:
        fs, root = _fs(self.storage_uri)
        return pd.read_csv(io.BytesIO(_read(fs, f"{root}/{self.version}/{indicator}/summary.csv")))


def _data_gap_months(as_of: str, created_at: str | None) -> int | None:
    """Months between the last observation and the training date (None: no training date)."""
    if not created_at:
        return None
    ts = pd.Timestamp(created_at)
    trained = pd.Period(ts.tz_convert(None) if ts.tzinfo else ts, freq="M")
    return (trained - pd.Period(as_of, freq="M")).n


def staleness_warning(as_of: str, created_at: str | None, max_gap_months: int = 6) -> str | None:
    """A warning when the history ends long before the model was trained (e.g. ktb3y → 2018)."""
    gap = _data_gap_months(as_of, created_at)
    if gap is not None and gap > max_gap_months:
        return (f"history ends {as_of}, {gap} months before training: the forecast starts after "
                f"{as_of}, not today")
    return None


def staleness_note_ko(as_of: str, created_at: str | None, max_gap_months: int = 6) -> str | None:
    """:func:`staleness_warning` for customers: "이 지표의 자료는 2018년 12월까지만 있습니다 …"."""
    gap = _data_gap_months(as_of, created_at)
    if gap is None or gap <= max_gap_months:
        return None
    last = pd.Period(as_of, freq="M")
    first = last + 1
    return (f"이 지표의 공개 자료는 {last.year}년 {last.month}월까지만 있습니다(예측 모델을 만든 시점보다 "
            f"{gap}개월 앞섬). 그래서 예측은 오늘이 아니라 {first.year}년 {first.month}월부터 시작합니다.")


def _reason_ko(choice: dict[str, Any]) -> str:
    """The served model's reason in Korean from a stored ``choice.json``."""
    from finray.forecasting.selection import model_ko

    try:
        return Choice.from_json(choice).reason_ko
    except (KeyError, TypeError, ValueError):  # an older or partial choice.json: name the model only
        return f"예측 모델: {model_ko(str(choice.get('model', '')))}(과거 검증으로 고른 모델)."


def load_version(storage_uri: str | Path, version: str) -> ModelBundle:
    fs, root = _fs(storage_uri)
    mpath = f"{root}/{version}/manifest.json"
    if not _exists(fs, mpath):
        raise ArtifactError(f"version {version} has no manifest at {storage_uri} (incomplete or missing)")
    manifest = json.loads(_read(fs, mpath))
    choices = {
        key: json.loads(_read(fs, f"{root}/{version}/{key}/choice.json"))
        for key in manifest["indicators"]
    }
    return ModelBundle(str(storage_uri), version, manifest, choices)


def models_uri(home: str | Path, storage_uri: str | None = None) -> str:
    """Where versions live: ``storage_uri`` if given, else ``<home>/models``."""
    return storage_uri or str(Path(home) / "models")


def latest_version(home: str | Path, storage_uri: str | None = None) -> str:
    """The version name ``latest`` points to (one small read: cheap enough to poll)."""
    uri = models_uri(home, storage_uri)
    fs, root = _fs(uri)
    pointer = f"{root}/{LATEST}"
    if not _exists(fs, pointer):
        raise ArtifactError(f"no trained forecaster at {uri} (run: python -m data_jobs train_forecaster)")
    return _read(fs, pointer).decode().strip()


def load_latest(home: str | Path, storage_uri: str | None = None) -> ModelBundle:
    """The version ``latest`` points to, under ``storage_uri`` or ``home / "models"``."""
    return load_version(models_uri(home, storage_uri), latest_version(home, storage_uri))
