"""ECOS client + ``collect_indicators`` live path against a loopback replay of ECOS.

The fake serves the recorded ECOS response and the bundled series in the real row shape, so the
live path (URL, paging, envelopes, normalization) runs unchanged and must reproduce exactly the
series the snapshot path builds from the same files.
"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from finray.indicators.ecos_api import (
    EcosAuthError,
    EcosNoDataError,
    EcosRateLimitError,
    EcosRequestError,
    EcosServerError,
    fetch_series,
    parse_page,
    statistic_search_url,
)
from finray.indicators.series import (
    INDICATORS,
    Observations,
    load_bundled,
    load_collected,
    normalize_monthly,
    observations_from_rows,
    recorded_ecos_response,
    usable_history,
)
from finray.sources.http import FetchError
from tests.fakes.ecos import EcosFake

KEY = "s3cr3t-ECOS-key"
BASE_RATE = INDICATORS["base_rate"].ecos


# --- catalogue / normalization -------------------------------------------------------------------
def test_bundled_spans_are_what_the_docstring_says() -> None:
    spans = {k: (str(s.index[0]), str(s.index[-1]), len(usable_history(s)))
             for k, s in ((k, load_bundled(k)) for k in INDICATORS)}
    assert spans == {
        "base_rate": ("2005-05", "2025-12", 84),  # 2018 missing → usable 2019-01..2025-12
        "usd_krw": ("2019-01", "2025-12", 84),
        "kospi": ("1996-01", "2026-04", 364),  # 2026-05 incomplete (file ends 05-27)
        "ktb3y": ("2001-01", "2018-04", 208),  # 2018-05 incomplete (file ends 05-29)
        "cpi": ("2014-01", "2025-12", 144),
    }
    base = load_bundled("base_rate")
    assert base.loc["2018-01":"2018-12"].isna().all() and base.isna().sum() == 12


def test_recorded_ecos_months_equal_month_end_of_daily_file() -> None:
    """ECOS's monthly 기준금리 is the month-end rate: the recorded response agrees with the daily file."""
    rows = recorded_ecos_response()["StatisticSearch"]["row"]
    live = normalize_monthly(INDICATORS["base_rate"], [observations_from_rows(rows, "M", "rec", None)])
    bundled = load_bundled("base_rate")
    assert len(live) == 10
    pd.testing.assert_series_equal(live, bundled.loc[live.index], check_names=False)
    assert live.loc["2011-03"] == 3.0 and live.loc["2011-06"] == 3.25


def test_overlapping_sources_that_disagree_refuse_to_splice() -> None:
    idx = pd.DatetimeIndex(["2020-01-01", "2020-02-01"])
    a = Observations("M", pd.Series([1.0, 2.0], index=idx), "a")
    agree = Observations("M", pd.Series([2.0, 3.0], index=idx + pd.offsets.MonthBegin(1)), "b")
    spliced = normalize_monthly(INDICATORS["cpi"], [a, agree])
    assert spliced.tolist() == [1.0, 2.0, 3.0]
    clash = Observations("M", pd.Series([2.5, 3.0], index=idx + pd.offsets.MonthBegin(1)), "c")
    with pytest.raises(ValueError, match="disagree"):
        normalize_monthly(INDICATORS["cpi"], [a, clash])


def test_daily_mean_uses_weekdays_and_drops_the_open_month() -> None:
    days = pd.date_range("2024-01-01", "2024-02-10", freq="D")  # weekends included, Feb open
    vals = pd.Series([2.0 if d.dayofweek < 5 else 99.0 for d in days], index=days)
    obs = Observations("D", vals, "x", as_of=pd.Timestamp("2024-02-11").date())
    out = normalize_monthly(INDICATORS["ktb3y"], [obs])
    assert list(out.index.astype(str)) == ["2024-01"] and out.iloc[0] == 2.0


# --- client ------------------------------------------------------------------------------------
def test_url_shape_and_envelopes() -> None:
    url = statistic_search_url("https://ecos.bok.or.kr/api/", KEY, BASE_RATE, "201101", "201110", 1, 100)
    assert url == f"https://ecos.bok.or.kr/api/StatisticSearch/{KEY}/json/kr/1/100/722Y001/M/201101/201110/0101000"
    page = parse_page(recorded_ecos_response(), "t")
    assert page.total == 10 and page.rows[0]["TIME"] == "201101"
    cases = {"INFO-100": EcosAuthError, "INFO-200": EcosNoDataError, "ERROR-300": EcosRequestError,
             "ERROR-331": EcosRequestError, "ERROR-601": EcosServerError, "ERROR-602": EcosRateLimitError}
    for code, cls in cases.items():
        with pytest.raises(cls) as info:
            parse_page({"RESULT": {"CODE": code, "MESSAGE": "m"}}, "t")
        assert info.value.code == code
    assert EcosServerError.retryable and not EcosRateLimitError.retryable


def test_invalid_key_is_an_auth_error_and_the_key_never_appears() -> None:
    with EcosFake(KEY) as fake:
        with pytest.raises(EcosAuthError) as info:
            fetch_series(fake.base_url, "wrong-" + KEY, BASE_RATE, "201101", "201110", retries=0)
    msg = str(info.value)
    assert "invalid API key" in msg and "INFO-100" in msg and KEY not in msg


def test_http_500_and_envelope_server_error_are_retried_then_succeed() -> None:
    with EcosFake(KEY, http_500_first={"722Y001": 1}, envelope_errors={"722Y001": ["ERROR-500"]}) as fake:
        rows = fetch_series(fake.base_url, KEY, BASE_RATE, "201101", "201110", retries=2, backoff_s=0.01)
        assert fake.calls["722Y001"] == 3
    assert [r["TIME"] for r in rows] == [f"2011{m:02d}" for m in range(1, 11)]
    assert rows == recorded_ecos_response()["StatisticSearch"]["row"]  # recorded rows, verbatim


def test_gave_up_error_is_redacted() -> None:
    with EcosFake(KEY, http_500_first={"722Y001": 5}) as fake:
        with pytest.raises(FetchError) as info:
            fetch_series(fake.base_url, KEY, BASE_RATE, "201101", "201110", retries=1, backoff_s=0.01)
    assert "HTTP 500" in str(info.value) and KEY not in str(info.value) and "/***/" in str(info.value)


def test_rate_limit_is_not_retried_and_no_data_is_explicit() -> None:
    with EcosFake(KEY, envelope_errors={"722Y001": ["ERROR-602"]}, no_data={"901Y009"}) as fake:
        with pytest.raises(EcosRateLimitError):
            fetch_series(fake.base_url, KEY, BASE_RATE, "201101", "201110", retries=3, backoff_s=0.01)
        assert fake.calls["722Y001"] == 1
        with pytest.raises(EcosNoDataError, match="no data"):
            fetch_series(fake.base_url, KEY, INDICATORS["cpi"].ecos, "201401", "202512", retries=0)


def test_paging_collects_every_row_once() -> None:
    q = INDICATORS["kospi"].ecos
    with EcosFake(KEY) as fake:
        rows = fetch_series(fake.base_url, KEY, q, "20240101", "20241231", page_size=50)
        pages = fake.calls["802Y001"]
    times = [r["TIME"] for r in rows]
    assert len(times) == len(set(times)) > 200 and times == sorted(times)
    assert pages == -(-len(rows) // 50)


# --- the job, live path --------------------------------------------------------------------------
@pytest.mark.ray
def test_collect_indicators_live_matches_snapshot_and_keeps_failed_files(ray_session, make_settings) -> None:
    from data_jobs import collect_indicators

    # fetched the day after the replay's last daily row (KOSPI 2026-05-27): May is still open, so
    # the live path must drop it exactly like the snapshot path does
    now = pd.Timestamp("2026-05-28T03:00:00").to_pydatetime()
    with EcosFake(KEY, no_data={"901Y009"}, http_500_first={"731Y004": 1}) as fake:
        settings = make_settings(ECOS_API_KEY=KEY, ECOS_BASE_URL=fake.base_url, FINRAY_HTTP_RETRIES="2")
        home = settings.home
        # a previous snapshot run leaves a CPI file that the failing live run must keep
        first = collect_indicators.run(settings, source="snapshot", indicators=["cpi"], now=now)
        assert first.error is None
        cpi_before = (home / "indicators" / "cpi.csv").read_bytes()

        res = collect_indicators.run(settings, source="live", now=now, page_size=2000, backoff_s=0.01)

    assert res.counts == {"ok": 4, "failed": 1}
    assert "cpi" in res.error and "no data" in res.error and KEY not in res.error
    for key in ("base_rate", "usd_krw", "kospi"):
        live = load_collected(home, key)
        pd.testing.assert_series_equal(live, load_bundled(key), check_names=False)
    # the replay's ktb3y stops 2018-05-29 although "today" is 2026: a live pull cannot know the
    # source was truncated, so it keeps 2018-05; everything before is identical
    ktb = load_collected(home, "ktb3y")
    assert str(ktb.index[-1]) == "2018-05"
    pd.testing.assert_series_equal(ktb.iloc[:-1], load_bundled("ktb3y"), check_names=False)
    assert (home / "indicators" / "cpi.csv").read_bytes() == cpi_before
    manifest = json.loads((home / "indicators" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["cpi"]["status"] == "stale" and manifest["cpi"]["mode"] == "snapshot"
    assert "INFO-200" in manifest["cpi"]["last_error"]
    assert manifest["kospi"]["source"] == "ecos:802Y001/D/0001000" and manifest["kospi"]["end"] == "2026-04"
    assert manifest["base_rate"]["usable_start"] == "2019-01" and manifest["base_rate"]["missing_months"] == 12


@pytest.mark.ray
def test_collect_indicators_invalid_key_keeps_everything(ray_session, make_settings) -> None:
    from data_jobs import collect_indicators

    with EcosFake(KEY) as fake:
        settings = make_settings(ECOS_API_KEY="nope", ECOS_BASE_URL=fake.base_url)
        res = collect_indicators.run(settings, source="live", indicators=["base_rate", "cpi"])
    assert res.counts == {"ok": 0, "failed": 2}
    assert "invalid API key" in res.error
    assert not (settings.home / "indicators" / "base_rate.csv").exists()
    manifest = json.loads((settings.home / "indicators" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["base_rate"]["status"] == "missing"


@pytest.mark.skipif(
    not (os.environ.get("ECOS_API_KEY") and os.environ.get("FINRAY_TEST_ECOS") == "1"),
    reason="real ECOS contract test: set ECOS_API_KEY and FINRAY_TEST_ECOS=1",
)
def test_ecos_real_service_contract() -> None:
    """The live StatisticSearch still answers in the shape the client and the fake assume."""
    rows = fetch_series("https://ecos.bok.or.kr/api", os.environ["ECOS_API_KEY"], BASE_RATE, "201101", "201110",
                        page_size=100)
    live = normalize_monthly(INDICATORS["base_rate"], [observations_from_rows(rows, "M", "ecos", None)])
    recorded = recorded_ecos_response()["StatisticSearch"]["row"]
    assert len(rows) == len(recorded) == 10
    assert set(recorded[0]) <= set(rows[0])  # every field the recorded response has
    assert list(live.to_numpy()) == [float(r["DATA_VALUE"]) for r in recorded]
