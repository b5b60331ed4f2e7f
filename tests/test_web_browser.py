"""The web front end in headless Chromium, through real Ray Serve and real data.

One small embedded home per module (the serve tests' sample of the bundled catalogue embedded
with the real offline e5 model, seeded demo users, a RiskXpert version trained on the bundled
indicator series), the application on Serve under ``/web-test`` (so it can share the proxy
with the serve tests' app at ``/``; the page's base href makes every URL relative to it), and
Debian's Chromium driven by Playwright. Each test starts from a fresh browser context and saves
screenshots to ``test-artifacts/web/``. An uncaught JavaScript error fails the test.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.harness import (
    ADMIN_USER,
    CUSTOMER,
    browser_missing_reason,
    build_web_home,
    jwt_secret,
    playwright_driver,
    replica_env,
    shot,
    watched_page,
    web_application,
)
from tests.serve_fixtures import serve_base  # noqa: F401 - pytest fixture

_MISSING = browser_missing_reason()
pytestmark = [pytest.mark.ray, pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")]

CHAT_USER = "U0000004"
REFRESH_USER = "U0000005"
LOGOUT_USER = "U0000006"
TABS_USER = "U0000007"
INTENT_USER = "U0000022"
AMOUNT_USER = "U0000023"
PHONE_USER = "U0000024"
WISH_USER = "U0000025"
RATE_QUESTION = "12개월 정기예금 중 금리가 가장 높은 상품 추천해 주세요"
AMOUNT_QUESTION = "3천만원을 12개월 정기예금에 맡기면 이자가 얼마예요?"
PREFIX = "/web-test"


@dataclass(frozen=True)
class WebApp:
    base: str  # http://127.0.0.1:port/web-test
    home: Path
    secret: str

    @property
    def app(self) -> str:
        return f"{self.base}/app/"

    @property
    def api(self) -> str:
        return f"{self.base}/api/v1"


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(serve_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebApp]:
    from ray import serve

    home = tmp_path_factory.mktemp("web") / "home"
    build_web_home(home)
    secret = jwt_secret()
    env = replica_env(home, secret)
    serve.run(web_application(env), name="web-test", route_prefix=PREFIX)
    app = WebApp(f"{serve_base}{PREFIX}", home, secret)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # the proxy may lag the application being ready
        try:
            if httpx.get(f"{app.api}/auth/dev-users", timeout=10).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    try:
        yield app
    finally:
        serve.delete("web-test")


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    with playwright_driver() as pw:
        yield pw


@pytest.fixture
def page(driver: Any) -> Iterator[Any]:
    """A page in a freshly launched Chromium with its own new profile."""
    with watched_page(driver, 30_000, viewport={"width": 1366, "height": 900}, locale="ko-KR",
                      timezone_id="Asia/Seoul") as p:
        yield p


# --- helpers ------------------------------------------------------------------------------------
def sign_in(page: Any, web: WebApp, user_id: str) -> None:
    page.goto(web.app)
    page.click(f".dev-user[data-user-id={user_id}]")
    page.wait_for_function("id => document.getElementById('who').textContent.startsWith(id)", arg=user_id)


def api_token(web: WebApp, user_id: str) -> str:
    r = httpx.post(f"{web.api}/auth/dev-login", json={"user_id": user_id}, timeout=30)
    r.raise_for_status()
    return r.json()["access_token"]


def card_ids(page: Any) -> list[str]:
    return page.eval_on_selector_all("#rec-cards .card", "cards => cards.map(c => c.dataset.productId)")


def chat_bodies(page: Any) -> list[dict[str, Any]]:
    """Every JSON body the page POSTs to /chat/stream, in order (filled as requests go out)."""
    bodies: list[dict[str, Any]] = []
    page.on("request", lambda r: bodies.append(r.post_data_json) if r.url.endswith("/chat/stream") else None)
    return bodies


def ask_and_wait(page: Any, question: str) -> Any:
    """Ask in the chat and wait for the answer to finish; the new assistant bubble."""
    done_before = page.locator(".msg.assistant[data-state=done]").count()
    page.fill("#chat-input", question)
    page.click("#chat-send")
    page.wait_for_function("n => document.querySelectorAll('.msg.assistant[data-state=done]').length > n",
                           arg=done_before)
    return page.locator(".msg.assistant").last


def chip_labels(scope: Any) -> list[str]:
    return [t.strip() for t in scope.locator("[aria-label='이해한 조건'] .intent-label").all_inner_texts()]


RATE = re.compile(r"^연 (\d+\.\d{2})%$")


def rate_of(cell: str) -> float | None:
    """"연 3.50%" → 3.5; "정보 없음" → None (anything else, e.g. a bare 0, fails)."""
    first = cell.strip().splitlines()[0].strip()  # the 단리/복리 line under the rate is not the rate
    if first == "정보 없음":
        return None
    m = RATE.match(first)
    assert m, f"a rate reads 연 x.xx% or 정보 없음, got {cell!r}"
    return float(m.group(1))


def comparison_rows(scope: Any) -> list[dict[str, Any]]:
    rows = scope.locator(".compare tbody tr")
    out = []
    for i in range(rows.count()):
        row = rows.nth(i)
        out.append({
            "name": row.locator(".c-name").inner_text().strip(),
            "provider": row.locator(".c-provider").inner_text().strip(),
            "term": row.locator(".c-term").inner_text().strip(),
            "base": rate_of(row.locator(".c-base").inner_text()),
            "max": rate_of(row.locator(".c-max").inner_text()),
            "month": row.locator(".c-month").inner_text().strip(),
        })
    return out


# --- sign-in and recommendations ---------------------------------------------------------------
def test_dev_login_recommendations_and_a_dislike_removes_the_card(page: Any, web: WebApp) -> None:
    page.goto(web.app)
    page.wait_for_selector(".dev-user")
    assert page.get_attribute("base", "href") == f"{PREFIX}/app/"
    assert page.locator("#kakao-login").inner_text().strip().endswith("카카오 로그인")
    assert page.get_attribute("#kakao-login", "href") == f"{web.base}/api/v1/auth/kakao/login"
    shot(page, "01-login")

    page.click(f".dev-user[data-user-id={CUSTOMER}]")
    page.wait_for_selector("#rec-status[data-state=ready]")
    assert page.inner_text("#who").startswith(CUSTOMER)
    assert page.is_hidden("#nav-admin"), "a customer must not see the admin menu"
    before = card_ids(page)
    assert len(before) >= 3
    first = page.locator("#rec-cards .card").first
    for selector in (".card-name", ".provider", ".badge", ".numbers dd", ".reason", ".suitability"):
        assert first.locator(selector).first.inner_text().strip(), selector
    # the summary text and the excluded list come from the same verified answer
    assert page.locator("#rec-summary .badge.ok").first.inner_text() == "검증 완료"
    shot(page, "02-advisor-recommendations")

    target = before[0]
    page.click(f"#rec-cards .card[data-product-id='{target}'] .fb-dislike")
    page.wait_for_function("t => document.getElementById('rec-status').textContent.startsWith('피드백을 반영했습니다')")
    page.wait_for_selector("#rec-status[data-state=ready]")
    after = card_ids(page)
    assert target not in after, "the disliked product is still recommended"
    assert len(after) == len(before), "another product takes its place"
    excluded = page.locator(f"#rec-excluded li[data-product-id='{target}']")
    assert excluded.get_attribute("data-kind") == "disliked"
    assert "관심 없음" in excluded.inner_text()
    assert page.locator("#rec-cards .card.new").count() >= 1
    shot(page, "03-advisor-after-dislike")


# --- chat ----------------------------------------------------------------------------------------
def test_chat_answer_streams_in_chunks_and_cites_cards(page: Any, web: WebApp) -> None:
    sign_in(page, web, CHAT_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")
    # record the answer's length every time the DOM changes, with a timestamp
    page.evaluate("""() => {
      window.__growth = [];
      const box = document.getElementById('chat-messages');
      new MutationObserver(() => {
        const answers = box.querySelectorAll('.msg.assistant .answer-text');
        const a = answers[answers.length - 1];
        if (a) window.__growth.push({t: performance.now(), n: a.textContent.length, streaming: a.classList.contains('streaming')});
      }).observe(box, {childList: true, subtree: true, characterData: true});
    }""")
    page.fill("#chat-input", "12개월 정기예금 중 금리가 높은 상품 추천해 주세요")
    page.click("#chat-send")
    page.wait_for_selector(".msg.assistant[data-state=done]")
    growth = page.evaluate("window.__growth")
    partial = [g for g in growth if g["streaming"] and g["n"] > 0]
    final = page.locator(".msg.assistant .answer-text").last.inner_text()
    sizes = [g["n"] for g in partial]
    assert len(set(sizes)) >= 3, f"the answer appeared in fewer than 3 steps: {sizes}"
    assert sizes == sorted(sizes) and sizes[0] < len(final) / 2, sizes
    assert partial[-1]["t"] > partial[0]["t"], "all text arrived at once"
    assert int(page.get_attribute(".msg.assistant .answer-text", "data-chunks")) >= 3
    assert "검증 완료" in page.inner_text(".msg.assistant .badges")

    # cited products are links: to their card when it is on the page, else they open in place
    cited = page.locator(".msg.assistant .cited-link")
    assert cited.count() >= 1
    assert page.locator(".msg.assistant .inline-cite").count() >= 1, "product names in the answer are links"
    on_page = set(card_ids(page))
    pid = cited.first.get_attribute("data-product-id")
    cited.first.click()
    if pid in on_page:
        page.wait_for_selector(f"#rec-cards .card.flash[data-product-id='{pid}']")
    else:
        assert page.locator(".msg.assistant .cited li").first.locator(".cited-detail").is_visible()
    shot(page, "04-advisor-chat")


# --- understood intent, comparison, computed interest --------------------------------------------------
def test_chat_shows_intent_chips_and_a_sorted_comparison_and_a_removed_chip_reasks(page: Any, web: WebApp) -> None:
    sign_in(page, web, INTENT_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")
    bodies = chat_bodies(page)
    bubble = ask_and_wait(page, RATE_QUESTION)

    chips = chip_labels(bubble)
    for label in ("12개월", "정기예금", "금리 높은 순"):
        assert label in chips, f"{label} not among the understood conditions {chips}"
    assert bubble.locator("[aria-label='12개월 조건 지우기']").count() == 1

    table = bubble.locator(".compare")
    assert table.count() == 1, "a rate question shows a comparison table"
    headers = [t.strip() for t in table.locator("thead th").all_inner_texts()]
    assert headers == ["상품", "기간", "기본금리", "최고금리", "우대조건", "공시월"], headers
    rows = comparison_rows(bubble)
    assert len(rows) >= 2, rows
    assert all(r["name"] and r["provider"] for r in rows)
    assert all(r["term"] == "12개월" for r in rows), [r["term"] for r in rows]
    # a month the catalogue lacks reads 정보 없음 (the sample has deposits without a disclosure month)
    assert all(re.fullmatch(r"(\d{4}\.\d{2}|정보 없음)(\s*이전 공시)?", r["month"]) for r in rows), [r["month"] for r in rows]
    rates = [r["max"] for r in rows]
    known = [x for x in rates if x is not None]
    assert known, "no 최고금리 in the table"
    assert known == sorted(known, reverse=True), f"not sorted by 최고금리, high to low: {rates}"
    assert rates[: len(known)] == known, f"a missing 최고금리 comes after the known ones: {rates}"
    shot(page, "10-chat-intent-comparison")

    # removing the 12개월 chip asks the same question again without reading 12개월 from it
    bubble.locator("[aria-label='12개월 조건 지우기']").click()
    page.wait_for_function("() => document.querySelectorAll('.msg.assistant[data-state=done]').length === 2")
    assert len(bodies) == 2, bodies
    assert bodies[0]["question"] == bodies[1]["question"] == RATE_QUESTION
    assert not bodies[0].get("drop")
    assert "term_months" in bodies[1]["drop"], bodies[1]
    assert "term_months" not in bodies[1], "the removed slot is not sent explicitly either"
    again = page.locator(".msg.assistant").last
    chips = chip_labels(again)
    assert "12개월" not in chips and "정기예금" in chips, chips
    assert "'12개월' 조건을 빼고 다시 물었습니다" in page.locator(".msg.user").last.inner_text()
    shot(page, "11-chat-chip-removed")


def test_chat_computes_interest_for_an_amount(page: Any, web: WebApp) -> None:
    sign_in(page, web, AMOUNT_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")
    bubble = ask_and_wait(page, AMOUNT_QUESTION)
    chips = chip_labels(bubble)
    assert "3,000만원" in chips and "12개월" in chips and "정기예금" in chips, chips

    lines = bubble.locator(".computed-item")
    assert lines.count() >= 1, "an amount question shows the computed interest"
    text = lines.first.inner_text()
    m = re.search(r"세전 이자 ([\d,]+)원, 세후 이자 ([\d,]+)원", text)
    assert m, text
    assert "3,000만원 · 12개월" in text and "계산값" in text and "이자소득세 15.4%" in text, text
    assert re.search(r"연 \d+\.\d{2}%\((단리|월복리)\)", text), text
    pre, post = (int(g.replace(",", "")) for g in m.groups())
    assert 0 < post < pre and post >= pre * 0.84, (pre, post)  # 15.4% 이자소득세 off the pre-tax interest
    shot(page, "12-chat-computed-interest")


def test_recommendations_take_a_wish_and_chips_can_be_removed(page: Any, web: WebApp) -> None:
    sign_in(page, web, WISH_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url) if "/recommendations/" in r.url else None)
    assert page.get_attribute("#rec-q", "placeholder").startswith("예:")
    page.fill("#rec-q", "12개월 정기예금 금리 높은 순")
    page.click("#rec-load")
    page.wait_for_selector("#rec-chips .intent-chip")
    page.wait_for_selector("#rec-status[data-state=ready]")
    assert "q=" in urls[-1], urls
    chips = chip_labels(page.locator("#rec-intent"))
    assert "12개월" in chips and "정기예금" in chips, chips

    page.click("#rec-chips [aria-label='12개월 조건 지우기']")
    page.wait_for_function("() => !document.querySelector(\"#rec-chips [aria-label='12개월 조건 지우기']\")")
    page.wait_for_selector("#rec-status[data-state=ready]")
    assert "drop=term_months" in urls[-1] and "q=" in urls[-1], urls[-1]
    assert "12개월" not in chip_labels(page.locator("#rec-intent"))
    shot(page, "13-recommendations-wish")


def test_chips_and_comparison_fit_a_phone(driver: Any, web: WebApp) -> None:
    with watched_page(driver, 30_000, viewport={"width": 390, "height": 844}, locale="ko-KR",
                      timezone_id="Asia/Seoul", is_mobile=True, has_touch=True, device_scale_factor=2) as page:
        sign_in(page, web, PHONE_USER)
        page.wait_for_selector("#rec-status[data-state=ready]")
        bubble = ask_and_wait(page, RATE_QUESTION)
        assert chip_labels(bubble), "no chips"
        assert bubble.locator(".compare tbody tr").count() >= 1, "no comparison table"
        bubble.locator(".compare").scroll_into_view_if_needed()
        layout = page.evaluate("""() => {
          const right = (sel) => Math.max(0, ...[...document.querySelectorAll(sel)].map(e => e.getBoundingClientRect().right));
          return {scroll: document.documentElement.scrollWidth, chips: right('.msg.assistant .intent'),
                  table: right('.msg.assistant .compare-wrap'), viewport: window.innerWidth};
        }""")
        assert layout["viewport"] == 390, layout
        assert layout["scroll"] <= 390, f"the page scrolls sideways on a phone: {layout}"
        assert 0 < layout["chips"] <= 390 and 0 < layout["table"] <= 390, layout
        shot(page, "14-phone-chat-comparison")


# --- RiskXpert --------------------------------------------------------------------------------------
BAND_PIXELS = """canvas => {
  const ctx = canvas.getContext('2d');
  const {width, height} = canvas;
  const data = ctx.getImageData(0, 0, width, height).data;
  const count = (x0, x1) => {
    let n = 0;
    for (let y = 0; y < height; y++) for (let x = x0; x < x1; x++) {
      const i = (y * width + x) * 4;
      // the band's fill: rgba(37, 99, 235, 0.18) on the transparent canvas (unpremultiplied)
      const a = data[i + 3];
      if (a > 30 && a < 70 && Math.abs(data[i] - 37) < 16 && Math.abs(data[i + 1] - 99) < 16 && Math.abs(data[i + 2] - 235) < 16) n++;
    }
    return n;
  };
  return {left: count(0, Math.floor(width / 2)), right: count(Math.floor(width / 2), width), width, height};
}"""


def test_forecast_chart_has_history_median_and_band_then_text_streams(page: Any, web: WebApp) -> None:
    sign_in(page, web, CUSTOMER)
    page.goto(f"{web.app}#/riskxpert")
    page.wait_for_selector("#fx-status[data-state=ready]")
    page.uncheck("input[value=usd_krw]")
    page.check("input[value=cpi]")
    page.eval_on_selector("#fx-months", "el => { el.value = '18'; el.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#fx-months-out") == "18개월"
    page.fill("#fx-question", "물가와 금리는 앞으로 어떻게 될까요?")
    page.click("#fx-run")
    page.wait_for_function("() => document.getElementById('fx-status').textContent.startsWith('전망 완료')")
    cards = page.locator(".fx-card")
    assert [cards.nth(i).get_attribute("data-indicator") for i in range(cards.count())] == ["base_rate", "cpi"]

    datasets = page.evaluate("""() => {
      const chart = Chart.getChart(document.getElementById('fx-chart-cpi'));
      return {labels: chart.data.labels, sets: chart.data.datasets.map(d => ({label: d.label, fill: d.fill ?? false, data: d.data}))};
    }""")
    by_label = {d["label"]: d for d in datasets["sets"]}
    assert set(by_label) == {"실적", "80% 구간 하단", "80% 예측 구간", "예측 중앙값"}
    history = [v for v in by_label["실적"]["data"] if v is not None]
    lower, upper, median = (by_label[k]["data"] for k in ("80% 구간 하단", "80% 예측 구간", "예측 중앙값"))
    assert len(history) == 24 and len(datasets["labels"]) == 24 + 18
    assert by_label["80% 예측 구간"]["fill"] == "-1", "the band is filled down to the lower edge"
    future = range(24, 24 + 18)
    assert all(lower[i] <= median[i] <= upper[i] for i in future)
    assert sum(upper[i] - lower[i] for i in future) > 0
    assert all(v is None for v in upper[:23]), "the band starts where the history ends"
    pixels = page.eval_on_selector("#fx-chart-cpi", BAND_PIXELS)
    assert pixels["right"] > 2000 and pixels["left"] < pixels["right"] / 10, pixels

    skill = page.locator(".fx-card[data-indicator=cpi] .skill")
    assert skill.get_attribute("data-model") in ("naive", "drift")
    text = skill.inner_text()
    assert "예측 모델" in text and "직전 값 유지 대비" in text and "80% 구간 적중률" in text and "%" in text
    # customer text only: the model choice and the data-age note in Korean, no English reason or jargon
    reason = page.inner_text(".fx-card[data-indicator=cpi] .fx-reason")
    assert reason.startswith("예측 모델: ") and ("단순 추세 모델" in reason or "직전 값 유지 모델" in reason), reason
    for card in page.locator(".fx-card").all():
        visible = card.inner_text()
        assert not re.search(r"[A-Za-z]{3,}", visible.replace("KOSPI", "")), f"English on the page: {visible!r}"
    assert int(page.get_attribute("#fx-summary", "data-chunks")) >= 1 and len(page.inner_text("#fx-summary")) > 50
    for case in ("optimistic", "base", "pessimistic"):
        assert len(page.inner_text(f"#fx-scenario-{case}")) > 20, case
    assert "기본 답변" in page.inner_text("#fx-done") and "오프라인" not in page.inner_text("#fx-done")
    shot(page, "05-riskxpert")


# --- admin -------------------------------------------------------------------------------------
def test_admin_dashboard_for_an_admin(page: Any, web: WebApp) -> None:
    sign_in(page, web, ADMIN_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")  # the admin's own recommendation is logged too
    token = api_token(web, ADMIN_USER)
    for n in range(10, 22):  # enough logs for a second page
        user = f"U00000{n:02d}"
        r = httpx.get(f"{web.api}/recommendations/{user}", params={"k": 2}, headers={"Authorization": f"Bearer {token}"},
                      timeout=60)
        assert r.status_code == 200, r.text
    time.sleep(1.5)  # the chat-log writer flushes every 0.5 s: no log may land between two pages

    assert page.is_visible("#nav-admin") and "관리자" in page.inner_text("#who")
    page.click("#nav-admin")
    page.wait_for_selector("#admin-body[data-state=ready]")
    tiles = page.inner_text("#adm-tiles")
    for label in ("활성 사용자", "대화", "AI 요청", "피드백", "평균 응답 시간"):
        assert label in tiles
    trend = page.evaluate("""() => {
      const c = Chart.getChart(document.getElementById('adm-trend-chart'));
      return c.data.datasets.map(d => ({label: d.label, total: d.data.reduce((a, b) => a + b, 0), n: d.data.length}));
    }""")
    assert [d["label"] for d in trend] == ["대화", "AI 요청"]
    assert trend[0]["n"] == 30 and trend[1]["total"] >= 12
    feedback = page.evaluate(
        "() => Chart.getChart(document.getElementById('adm-feedback-chart')).data.datasets.map(d => d.label)"
    )
    assert feedback == ["👍 좋아요", "👎 싫어요"]
    assert page.locator("#adm-usage tbody tr").count() >= 10

    pager = page.locator("#adm-logs .pager-info")
    assert pager.inner_text().startswith("1–10 / 총 ")
    total = int(pager.inner_text().split("총 ")[1].rstrip("건").replace(",", ""))
    assert total >= 12
    first_page = page.eval_on_selector_all("#adm-logs .log-row", "rows => rows.map(r => r.dataset.logId)")
    page.click("#adm-logs .pager button:has-text('다음')")
    page.wait_for_function("() => document.querySelector('#adm-logs .pager-info').textContent.startsWith('11–')")
    second_page = page.eval_on_selector_all("#adm-logs .log-row", "rows => rows.map(r => r.dataset.logId)")
    assert second_page and not set(first_page) & set(second_page)
    page.locator("#adm-logs .log-row").first.click()
    assert page.locator("#adm-logs .log-detail").first.is_visible()
    shot(page, "06-admin-dashboard")

    link = page.locator("#adm-usage a.user-link").first
    who = link.inner_text()
    link.click()
    page.wait_for_selector("#adm-user-logs .log-row")
    page.wait_for_selector("#admin-body[data-state=ready]")
    assert who in page.inner_text("h1")
    users = page.eval_on_selector_all("#adm-user-logs .log-row td:nth-child(2)", "cells => cells.map(c => c.textContent)")
    assert users and set(users) == {who}
    shot(page, "07-admin-user-detail")


def test_admin_is_refused_to_a_customer(page: Any, web: WebApp) -> None:
    sign_in(page, web, CUSTOMER)
    assert page.is_hidden("#nav-admin")
    page.goto(f"{web.app}#/admin")
    page.wait_for_selector("#admin-refused")
    box = page.locator("#admin-refused .error-box")
    assert box.get_attribute("data-status") == "403" and box.get_attribute("data-reason") == "admin_required"
    assert "관리자만 볼 수 있는 화면입니다" in box.inner_text()
    assert page.locator("#adm-tiles").count() == 0
    shot(page, "08-admin-refused")


# --- tokens -----------------------------------------------------------------------------------------
def test_an_expired_access_token_is_refreshed_once_with_rotation(page: Any, web: WebApp) -> None:
    from finray.auth import AuthService
    from finray.config import load_settings

    # a real session whose access token expired an hour ago (its refresh token is still valid),
    # minted with the deployment's key into the deployment's auth store
    settings = load_settings(FINRAY_HOME=str(web.home), AUTH_JWT_SECRET=web.secret)
    auth = AuthService.from_settings(settings, clock=lambda: time.time() - 3600)
    pair = auth.tokens.issue(REFRESH_USER)
    auth.close()
    page.goto(web.app)
    page.wait_for_selector("#kakao-login")
    # the page believes the token is fresh (clock skew): only the server's 401 tells it otherwise
    page.evaluate("""p => localStorage.setItem('finray.session.v1', JSON.stringify({
      access_token: p.access, refresh_token: p.refresh, user_id: p.user,
      access_expires_at: Date.now() + 600000, refresh_expires_at: Date.now() + 86400000}))""",
                  {"access": pair.access_token, "refresh": pair.refresh_token, "user": REFRESH_USER})
    statuses: list[tuple[str, int]] = []
    page.on("response", lambda r: statuses.append((r.url.split("/api/v1/")[-1].split("?")[0], r.status)))
    page.reload()
    page.wait_for_function("id => document.getElementById('who').textContent.startsWith(id)", arg=REFRESH_USER)
    page.wait_for_selector("#rec-status[data-state=ready]")
    me_calls = [s for u, s in statuses if u == "auth/me"]
    assert me_calls[:2] == [401, 200], statuses
    assert [s for u, s in statuses if u == "auth/refresh"] == [200], "refreshed exactly once"
    stored = page.evaluate("JSON.parse(localStorage.getItem('finray.session.v1'))")
    assert stored["refresh_token"] != pair.refresh_token and stored["access_token"] != pair.access_token

    # the old refresh token was used once: presenting it again revokes the whole session, and
    # the page then sends the user back to the sign-in screen with a clear message
    r = httpx.post(f"{web.api}/auth/refresh", json={"refresh_token": pair.refresh_token}, timeout=30)
    assert r.status_code == 401 and r.json()["reason"] == "refresh_token_reused"
    page.click("#rec-load")
    page.wait_for_selector("#login-notice")
    assert page.is_visible("#kakao-login") and page.is_hidden("#nav")
    assert page.evaluate("localStorage.getItem('finray.session.v1')") is None
    assert page.inner_text("#login-notice").startswith("로그인이 해제되었습니다")
    shot(page, "09-session-revoked")


def test_two_tabs_share_one_session_without_reusing_a_refresh_token(page: Any, web: WebApp) -> None:
    """Two tabs find the access token expired at the same moment. The refresh is serialized (Web
    Lock) and the second tab takes the pair the first one stored: one refresh, no refresh token
    presented twice (a second use would revoke the whole session)."""
    from finray.auth import AuthService
    from finray.config import load_settings

    settings = load_settings(FINRAY_HOME=str(web.home), AUTH_JWT_SECRET=web.secret)
    auth = AuthService.from_settings(settings, clock=lambda: time.time() - 3600)
    pair = auth.tokens.issue(TABS_USER)
    auth.close()
    other = page.context.new_page()
    refreshes: list[int] = []
    for tab in (page, other):
        tab.goto(web.app)
        tab.wait_for_selector("#kakao-login")
        tab.on("response", lambda r: refreshes.append(r.status) if r.url.endswith("/auth/refresh") else None)
    page.evaluate("""p => localStorage.setItem('finray.session.v1', JSON.stringify({
      access_token: p.access, refresh_token: p.refresh, user_id: p.user,
      access_expires_at: Date.now() + 600000, refresh_expires_at: Date.now() + 86400000}))""",
                  {"access": pair.access_token, "refresh": pair.refresh_token, "user": TABS_USER})
    start_at = time.time() * 1000 + 700  # both tabs call the API at this wall-clock instant
    for tab in (page, other):
        tab.evaluate("""at => {
          window.__me = null;
          setTimeout(async () => {
            const api = await import('./js/api.js');
            window.__me = await api.me().then(m => m.user_id, e => `error ${e.status} ${e.reason}`);
          }, at - Date.now());
        }""", start_at)
    for tab in (page, other):
        tab.wait_for_function("() => window.__me !== null")
        assert tab.evaluate("window.__me") == TABS_USER
    assert refreshes == [200], f"expected one refresh shared by both tabs, saw {refreshes}"
    stored = page.evaluate("JSON.parse(localStorage.getItem('finray.session.v1'))")
    me = httpx.get(f"{web.api}/auth/me", headers={"Authorization": f"Bearer {stored['access_token']}"}, timeout=30)
    assert me.status_code == 200, "the session must still be alive"
    other.close()


def test_logout_revokes_the_session(page: Any, web: WebApp) -> None:
    sign_in(page, web, LOGOUT_USER)
    stored = page.evaluate("JSON.parse(localStorage.getItem('finray.session.v1'))")
    page.click("#logout")
    page.wait_for_selector("#login-notice")
    assert page.inner_text("#login-notice") == "로그아웃했습니다."
    assert page.evaluate("localStorage.getItem('finray.session.v1')") is None
    r = httpx.get(f"{web.api}/auth/me", headers={"Authorization": f"Bearer {stored['access_token']}"}, timeout=30)
    assert r.status_code == 401
    r = httpx.post(f"{web.api}/auth/refresh", json={"refresh_token": stored["refresh_token"]}, timeout=30)
    assert r.status_code == 401


# --- the client's stream and error handling on the page itself -------------------------------------
def test_sse_parsing_lost_streams_and_error_messages(page: Any, web: WebApp) -> None:
    """The page's own modules, fed byte streams cut at awkward places (inside a multi-byte
    character, between CR and LF) and streams that end early."""
    page.goto(web.app)
    page.wait_for_selector("#kakao-login")
    result = page.evaluate("""async () => {
      const api = await import('./js/api.js');
      const enc = new TextEncoder();
      const responseOf = (parts) => new Response(new ReadableStream({
        start(c) { for (const p of parts) c.enqueue(typeof p === 'string' ? enc.encode(p) : p); c.close(); }
      }), {headers: {'Content-Type': 'text/event-stream'}});
      const whole = enc.encode('id: 1\\r\\nevent: delta\\r\\ndata: {"text":"안녕하세요"}\\r\\n\\r\\n: comment\\n\\nevent: done\\ndata: {"ok":true}\\n\\n');
      const parts = [];
      for (let i = 0; i < whole.length; i += 7) parts.push(whole.slice(i, i + 7));  // splits inside 한글 and CRLF
      const seen = [];
      await api.consumeEvents(responseOf(parts), {delta: d => seen.push(d.text), done: d => seen.push(d.ok)});
      const lost = await api.consumeEvents(responseOf(['event: delta\\ndata: {"text":"a"}\\n\\nevent: del']), {})
        .then(() => null, e => ({kind: e.kind, message: e.message, status: e.status}));
      const failed = await api.consumeEvents(responseOf(['event: error\\ndata: {"error":"internal_error","detail":"boom","request_id":"r1"}\\n\\n']), {})
        .then(() => null, e => ({kind: e.kind, message: e.message, requestId: e.requestId}));
      return {
        seen, lost, failed,
        m429: api.koreanMessage({status: 429, retryAfter: '7'}),
        m500: api.koreanMessage({status: 500}),
        m503: api.koreanMessage({status: 503}),
        m403: api.koreanMessage({status: 403, reason: 'admin_required'}),
        m0: api.koreanMessage({status: 0}),
      };
    }""")
    assert result["seen"] == ["안녕하세요", True]
    assert result["lost"]["kind"] == "stream_lost" and "연결이 끊겼습니다" in result["lost"]["message"]
    assert result["failed"] == {"kind": "stream_error", "message": result["failed"]["message"], "requestId": "r1"}
    assert "오류" in result["failed"]["message"]
    assert result["m429"] == "요청이 너무 많습니다. 7초 후에 다시 시도해 주세요."
    assert "서버에 오류" in result["m500"] and "준비" in result["m503"] and "관리자" in result["m403"]
    assert "연결할 수 없습니다" in result["m0"]
