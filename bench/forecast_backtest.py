"""Forecast backtest benchmark: every model × indicator × horizon, and what the rule serves.

    python bench/forecast_backtest.py [--home DIR] [--write bench/RESULTS.md]

Runs the real ``train_forecaster`` job (Ray, one task per indicator, production settings) on the
bundled series in a scratch ``FINRAY_HOME``, then reads the published artifact's backtest tables
and reports:

* per indicator × horizon × model: MASE, relMASE vs Naive, MAE (native units), 80% coverage, width;
* the served model per indicator (the fixed rule in ``finray/forecasting/selection.py``) and the
  geometric mean of its relMASE across indicators; pooled coverage of served intervals;
* a **held-out check of the choice**: the rule applied only to forecasts whose target month lies
  before the second half of the origins, and the chosen model scored on the second half. The
  in-sample numbers flatter the served model (best of five on the same origins); this one does not.

Nothing is tuned here: all model settings are the defaults in ``finray/forecasting``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from finray.forecasting.backtest import aggregate, summarize  # noqa: E402
from finray.forecasting.selection import select, skills, worst_pair  # noqa: E402

TARGET_REL = 0.97
TARGET_COV = (0.75, 0.85)
SECTION = "## Forecast backtest"


def _geo(x: list[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(np.exp(np.mean(np.log(a)))) if len(a) and np.all(a > 0) else float("nan")


def held_out(errors: pd.DataFrame) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """Choose on forecasts that resolve before the second half of the origins; score after."""
    origins = sorted(errors["origin_idx"].unique())
    split = origins[len(origins) // 2]
    t_idx = errors["origin_idx"] + errors["h"] - 1
    val = errors[t_idx < split]
    test = errors[errors["origin_idx"] >= split]
    choice = select(skills(summarize(val), val))
    return choice.model, summarize(test), test


def fmt(x: float, nd: int = 3) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def report(bundle, seconds: float, load: tuple[float, float, float]) -> str:
    lines = [SECTION, ""]
    now = datetime.now(UTC)
    lines += [
        f"Run {now:%Y-%m-%d %H:%M} UTC on {platform.machine()} with {os.cpu_count()} CPU cores, no GPU; "
        f"load average at the end {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f} (the machine is shared, so "
        f"wall times are pessimistic). `python bench/forecast_backtest.py` — the `train_forecaster` job "
        f"on the bundled series, artifact `{bundle.version}`, {seconds:.0f} s wall in total.",
        "",
        f"Rolling origin: {bundle.manifest['config']['n_origins']} monthly origins per indicator (the "
        f"last ones of each gap-free history), horizons 1/3/6/12, every model refitted on "
        f"`history[:origin]` only (PatchTST retrained every "
        f"{bundle.manifest['config']['patchtst_retrain_every']} origins and re-anchored in between). "
        "MASE scale = mean |one-step change| up to the cutoff; relMASE = MASE / MASE(Naive); MAE in "
        "the indicator's unit; cov = share of actuals inside the 80% interval; width in the unit.",
        "",
    ]
    served_rel: list[float] = []
    served_pairs: list[tuple[str, int, float]] = []
    served_cov_hits = 0
    served_cov_n = 0
    ho_rows = []
    literal_rows: list[tuple[str, str, float, int, int, float]] = []
    for key in bundle.indicators:
        c = bundle.choices[key]
        summ = bundle.summary(key)
        err = bundle.backtest(key)
        served = c["model"]
        meta = c["meta"]
        lines += [f"### {key} — served: **{served}**", "",
                  f"History {meta['history_start']}..{meta['history_end']} ({meta['n_history']} months); "
                  f"origins {meta['origins'][0]}..{meta['origins'][-1]}. Rule: {c['reason']}.", ""]
        lines += ["| model | h | n | MASE | relMASE | MAE | cov80 | width |", "|---|---|---|---|---|---|---|---|"]
        for _, r in summ.sort_values(["model", "h"]).iterrows():
            mark = " ◀" if r["model"] == served else ""
            lines.append(f"| {r['model']}{mark} | {int(r['h'])} | {int(r['n'])} | {fmt(r['mase'])} | "
                         f"{fmt(r['rel_mase'])} | {fmt(r['mae'])} | {fmt(r['coverage'], 2)} | {fmt(r['width'])} |")
        agg = aggregate(summ, err).set_index("model")
        lines += ["", "| model (all horizons) | mean MASE | geo relMASE | cov80 pooled |", "|---|---|---|---|"]
        for m, r in agg.iterrows():
            mark = " ◀" if m == served else ""
            lines.append(f"| {m}{mark} | {fmt(r['mase'])} | {fmt(r['rel_mase'])} | {fmt(r['coverage'], 2)} |")
        lines.append("")
        served_rel.append(float(agg.loc[served, "rel_mase"]))
        for _, r in summ[summ["model"] == served].iterrows():
            served_pairs.append((key, int(r["h"]), float(r["rel_mase"])))
        se = err[err["model"] == served]
        served_cov_hits += int(se["covered"].sum())
        served_cov_n += len(se)
        lit = select(skills(summ, err), pairwise=False)
        lit_se = err[err["model"] == lit.model]
        literal_rows.append((key, lit.model, float(agg.loc[lit.model, "rel_mase"]),
                             int(lit_se["covered"].sum()), len(lit_se), worst_pair(lit.skill)))
        ho_model, ho_test, ho_err = held_out(err)
        t = ho_test.set_index("model")
        ta = aggregate(ho_test, ho_err).set_index("model")
        counts = ", ".join(f"h{int(h)}:{int(n)}" for h, n in t.loc[ho_model, ["h", "n"]].itertuples(index=False))
        ho_rows.append((key, ho_model, float(ta.loc[ho_model, "rel_mase"]),
                        float(ta.loc[ho_model, "coverage"]), counts))

    geo = _geo(served_rel)
    cov = served_cov_hits / served_cov_n if served_cov_n else float("nan")
    worst = max(served_pairs, key=lambda p: p[2])
    over = [p for p in served_pairs if p[2] > 1.0 + 1e-12]
    lines += ["### Served models — summary", "",
              "| indicator | served | geo relMASE (h 1/3/6/12) | relMASE by h |", "|---|---|---|---|"]
    for key, rel in zip(bundle.indicators, served_rel, strict=True):
        by_h = " / ".join(fmt(p[2], 2) for p in served_pairs if p[0] == key)
        lines.append(f"| {key} | {bundle.choices[key]['model']} | {fmt(rel)} | {by_h} |")
    met_rel = np.isfinite(geo) and geo <= TARGET_REL
    met_cov = TARGET_COV[0] <= cov <= TARGET_COV[1]
    lines += [
        "",
        f"* Geometric mean of served relMASE across indicators: **{fmt(geo)}** (target ≤ {TARGET_REL}) → "
        f"**{'met' if met_rel else 'not met'}**. Without the most favourable indicator "
        f"({bundle.indicators[int(np.argmin(served_rel))]}): {fmt(_geo(sorted(served_rel)[1:]))}.",
        "* Served (indicator, horizon) pairs with relMASE > 1: "
        + (", ".join(f"{k} h{h} ({fmt(r, 2)})" for k, h, r in over) if over else "none")
        + f"; worst pair {worst[0]} h{worst[1]} = {fmt(worst[2], 2)}.",
        f"* Pooled 80% coverage of served intervals: **{fmt(cov, 3)}** over {served_cov_n} forecasts "
        f"(target {TARGET_COV[0]}–{TARGET_COV[1]}) → **{'met' if met_cov else 'not met'}**.",
        "",
        "### The literal two-step rule (without the pairwise guard)", "",
        "| indicator | served | geo relMASE | worst horizon relMASE | cov80 pooled |", "|---|---|---|---|---|",
    ]
    for key, m, rel, hits, n, worst_h in literal_rows:
        lines.append(f"| {key} | {m} | {fmt(rel)} | {fmt(worst_h, 2)} | {fmt(hits / n, 2)} |")
    lit_cov = sum(r[3] for r in literal_rows) / max(1, sum(r[4] for r in literal_rows))
    lines += [
        "",
        f"Geometric mean {fmt(_geo([r[2] for r in literal_rows]))}, pooled coverage {fmt(lit_cov, 3)}, "
        f"served pairs with relMASE > 1: {sum(r[5] > 1 + 1e-12 for r in literal_rows)} indicator(s).",
        "",
        "### Held-out check of the choice", "",
        "The rule applied to forecasts that resolve before the second half of the origins only, and the "
        "chosen model scored on the second half (so the choice never saw the scored months; few h=12 "
        "origins remain — counts per horizon shown).", "",
        "| indicator | chosen on first half | relMASE second half | cov80 second half | n by h |",
        "|---|---|---|---|---|",
    ]
    for key, m, rel, c, ns in ho_rows:
        lines.append(f"| {key} | {m} | {fmt(rel)} | {fmt(c, 2)} | {ns} |")
    lines += ["", f"Geometric mean of held-out relMASE: **{fmt(_geo([r[2] for r in ho_rows]))}**.", ""]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the ``## Forecast backtest`` section, leaving other sections alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    start = text.find(SECTION)
    if start >= 0:
        nxt = text.find("\n## ", start + len(SECTION))
        text = text[:start] + section + (text[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", default=None, help="FINRAY_HOME to use (default: a temp dir)")
    ap.add_argument("--write", default=None, help="write the section into this RESULTS.md")
    args = ap.parse_args(argv)

    from data_jobs import train_forecaster
    from finray.config import load_settings
    from finray.forecasting.artifacts import load_latest

    home = Path(args.home or tempfile.mkdtemp(prefix="finray-bench-"))
    settings = load_settings(FINRAY_HOME=str(home))
    t0 = time.perf_counter()
    res = train_forecaster.run(settings)
    seconds = time.perf_counter() - t0
    if res.error:
        print(f"error: {res.error}", file=sys.stderr)
    bundle = load_latest(home)
    section = report(bundle, seconds, os.getloadavg())
    print(section)
    if args.write:
        write_section(Path(args.write), section)
    return 1 if res.error else 0


if __name__ == "__main__":
    raise SystemExit(main())
