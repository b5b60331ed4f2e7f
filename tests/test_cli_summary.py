"""The data jobs' summary table stays readable in logs (Airflow, RayJob, `make up`), not only in a terminal."""

from __future__ import annotations

from data_jobs.cli import render, summary_console
from data_jobs.runtime import JobResult

REASON = ("patchtst not served (relMASE 1.154 ≥ 1); lowest-MASE baseline naive (MASE 4.788, "
          "relMASE 1.000); lower-MASE ets skipped (relMASE > 1 at some horizon)")


def _result() -> JobResult:
    details = [{"version": "20261122T222920Z-1184ca08", "storage": "/home/finray/var/models",
                "indicator": ind, "model": "naive", "rel_mase": 1.0, "coverage": 0.79,
                "as_of": "2025-12", "input": "collected", "reason": REASON}
               for ind in ("base_rate", "usd_krw", "kospi", "ktb3y", "cpi")]
    return JobResult(job="train_forecaster", counts={"indicators": 5, "served_baseline": 5},
                     records=5, seconds=12.5, details=details)


def test_off_a_terminal_long_cells_are_printed_whole(capsys, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    render(_result(), summary_console())  # capsys: stdout is not a TTY, as in a log file
    out = capsys.readouterr().out
    assert REASON in out  # on one line, not cut into 8-character slivers
    assert "20261122T222920Z-1184ca08" in out and "…" not in out


def test_columns_from_the_environment_still_win(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    render(_result(), summary_console())
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert REASON not in out
