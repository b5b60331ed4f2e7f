// Admin dashboard (admin role): overview tiles, trends, feedback, per-user usage, logs.
// #/admin shows everything; #/admin/user/U0000001 one user's logs. The server decides who is
// an admin: a 403 from it is shown as the refusal (the menu only hides the link).

import { apiJson } from '../api.js';
import { feedbackChart, trendChart } from '../charts.js';
import { clear, fmtDateTime, fmtInt, fmtNum, fmtPct, h, spinner } from '../dom.js';

const PAGE = 10;
const KIND_KO = { chat: '상담', recommendation: '추천', forecast: '전망' };

function subroute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  return parts[1] === 'user' && /^U\d{7}$/.test(parts[2] || '') ? { user: parts[2] } : {};
}

export function mount(container, ctx) {
  let alive = true;
  let charts = [];
  const route = subroute();
  const start = h('input', { type: 'date', id: 'adm-start' });
  const end = h('input', { type: 'date', id: 'adm-end' });
  const body = h('div', { id: 'admin-body' }, spinner());

  container.append(
    h('div', { class: 'panel-head' },
      h('h1', {}, route.user ? `사용자 ${route.user} 기록` : '관리자 대시보드'),
      h('p', { class: 'muted' }, '조회 기간은 UTC 날짜 기준이며 시작일과 종료일을 모두 포함합니다(비워 두면 전체 기간, 추이는 최근 30일). 시각은 이 브라우저의 시간대로 표시합니다.')),
    h('form', { class: 'filters', id: 'adm-filters', onsubmit: (e) => { e.preventDefault(); load(); } },
      h('label', {}, '시작일', start), h('label', {}, '종료일', end),
      h('button', { type: 'submit', class: 'btn' }, '조회'),
      route.user ? h('a', { class: 'btn ghost', href: '#/admin' }, '← 대시보드로') : null),
    body,
  );

  const range = () => ({ start: start.value || undefined, end: end.value || undefined });
  const destroyCharts = () => { for (const c of charts) c.destroy(); charts = []; };

  function refused(err) {
    if (err.status === 403) container.querySelector('#adm-filters')?.remove();
    clear(body).append(h('div', { class: 'refused', id: 'admin-refused' },
      h('h2', {}, err.status === 403 ? '접근 권한이 없습니다' : '불러오지 못했습니다'),
      ctx.errorBox(err)));
  }

  async function load() {
    destroyCharts();
    body.dataset.state = 'loading';
    clear(body).append(spinner());
    try {
      if (route.user) await loadUser(route.user);
      else await loadDashboard();
      body.dataset.state = 'ready';
    } catch (err) {
      body.dataset.state = 'error';
      if (!alive || err.name === 'AbortError') return;
      refused(err);
    }
  }

  async function loadDashboard() {
    const [overview, trends, feedback] = await Promise.all([
      apiJson('admin/stats/overview', { params: range() }),
      apiJson('admin/stats/trends', { params: range() }),
      apiJson('admin/stats/feedback', { params: range() }),
    ]);
    if (!alive) return;
    const trendCanvas = h('canvas', { id: 'adm-trend-chart', role: 'img', 'aria-label': '일별 대화와 AI 요청 추이' });
    const fbCanvas = h('canvas', { id: 'adm-feedback-chart', role: 'img', 'aria-label': '피드백 분포' });
    const usage = h('div', { id: 'adm-usage' });
    const logs = h('div', { id: 'adm-logs' });
    clear(body).append(
      tiles(overview),
      h('div', { class: 'admin-charts' },
        h('section', { class: 'panel' }, h('h2', {}, `일별 추이 (${trends.start} ~ ${trends.end})`), h('div', { class: 'chart-wrap' }, trendCanvas)),
        h('section', { class: 'panel' }, h('h2', {}, `피드백 분포 (총 ${fmtInt(feedback.total)}건)`), h('div', { class: 'chart-wrap short' }, fbCanvas),
          topProducts('가장 많이 👍 받은 상품', feedback.top_liked_products),
          topProducts('가장 많이 👎 받은 상품', feedback.top_disliked_products))),
      h('section', { class: 'panel' }, h('h2', {}, '사용자별 AI 이용'), usage),
      h('section', { class: 'panel' }, h('h2', {}, '대화·요청 기록'), logs),
    );
    charts.push(trendChart(trendCanvas, trends.days), feedbackChart(fbCanvas, feedback));
    await Promise.all([usagePage(usage, 0), logPage(logs, 'admin/logs', 0)]);
  }

  async function loadUser(userId) {
    const logs = h('div', { id: 'adm-user-logs' });
    clear(body).append(h('section', { class: 'panel' }, h('h2', {}, `${userId}의 대화·요청 기록`), logs));
    await logPage(logs, `admin/logs/${userId}`, 0);
  }

  function tiles(o) {
    const tile = (label, value, sub) => h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, label),
      h('strong', { class: 'tile-value' }, value), sub ? h('span', { class: 'tile-sub' }, sub) : null);
    return h('div', { class: 'tiles', id: 'adm-tiles' },
      tile('활성 사용자', fmtInt(o.users_active)),
      tile('대화', fmtInt(o.conversations)),
      tile('AI 요청', fmtInt(o.api_requests), `추천 ${fmtInt(o.recommendations)} · 전망 ${fmtInt(o.forecasts)}`),
      tile('피드백', fmtInt(o.feedback_total), `👍 ${fmtInt(o.likes)} · 👎 ${fmtInt(o.dislikes)}`),
      tile('평균 응답 시간', o.avg_latency_ms === null ? '–' : `${fmtNum(o.avg_latency_ms / 1000, 2)}초`),
      tile('모델 대체율', fmtPct(o.fallback_rate, 1), '오프라인 답변으로 대체된 비율'));
  }

  function topProducts(title, rows) {
    if (!rows || !rows.length) return null;
    return h('div', { class: 'top-products' }, h('h3', {}, title),
      h('ol', {}, rows.map(([pid, n]) => h('li', {}, h('code', {}, pid), ` ${fmtInt(n)}회`))));
  }

  /** Customers link to their detail view; other ids (e.g. "anonymous" forecasts) are plain text. */
  function userLink(userId) {
    return /^U\d{7}$/.test(userId)
      ? h('a', { href: `#/admin/user/${userId}`, class: 'user-link', onclick: (e) => e.stopPropagation() }, userId)
      : h('span', { class: 'muted' }, userId);
  }

  function pager(total, offset, go) {
    const from = total ? offset + 1 : 0;
    const to = Math.min(offset + PAGE, total);
    return h('div', { class: 'pager' },
      h('button', { type: 'button', class: 'btn small ghost', disabled: offset === 0, onclick: () => go(Math.max(0, offset - PAGE)) }, '← 이전'),
      h('span', { class: 'pager-info' }, `${fmtInt(from)}–${fmtInt(to)} / 총 ${fmtInt(total)}건`),
      h('button', { type: 'button', class: 'btn small ghost', disabled: to >= total, onclick: () => go(offset + PAGE) }, '다음 →'));
  }

  async function usagePage(box, offset) {
    const page = await apiJson('admin/users', { params: { ...range(), offset, limit: PAGE } });
    if (!alive) return;
    clear(box).append(
      page.items.length ? h('table', { class: 'table' },
        h('thead', {}, h('tr', {}, [['사용자'], ['대화', 'num'], ['AI 요청', 'num'], ['피드백', 'num'], ['마지막 이용']].map(([t, c]) => h('th', { class: c }, t)))),
        h('tbody', {}, page.items.map((u) => h('tr', { dataset: { userId: u.user_id } },
          h('td', {}, userLink(u.user_id)),
          h('td', { class: 'num' }, fmtInt(u.conversations)), h('td', { class: 'num' }, fmtInt(u.api_requests)),
          h('td', { class: 'num' }, fmtInt(u.feedback)), h('td', {}, fmtDateTime(u.last_active)))))) :
        h('p', { class: 'empty' }, '이 기간에 이용 기록이 없습니다.'),
      pager(page.total, offset, (o) => usagePage(box, o).catch((err) => box.append(ctx.errorBox(err)))));
  }

  async function logPage(box, path, offset) {
    const page = await apiJson(path, { params: { ...range(), offset, limit: PAGE } });
    if (!alive) return;
    const rows = page.items.flatMap((log) => {
      const detail = h('tr', { class: 'log-detail', hidden: true },
        h('td', { colspan: '6' },
          h('p', {}, h('strong', {}, '질문 '), log.question),
          h('p', { class: 'answer-text' }, log.answer),
          log.product_ids.length ? h('p', { class: 'muted small' }, `상품: ${log.product_ids.join(', ')}`) : null,
          h('p', { class: 'muted small' }, `로그 ID ${log.log_id}${log.meta?.request_id ? ` · 요청 ID ${log.meta.request_id}` : ''}`)));
      const row = h('tr', { class: 'log-row', dataset: { logId: log.log_id }, tabindex: '0',
        onclick: () => { detail.hidden = !detail.hidden; },
        onkeydown: (e) => { if (e.key === 'Enter') detail.hidden = !detail.hidden; } },
        h('td', {}, fmtDateTime(log.created_at)),
        h('td', {}, userLink(log.user_id)),
        h('td', {}, KIND_KO[log.kind] || log.kind),
        h('td', { class: 'clip' }, log.question || h('span', { class: 'muted' }, '(질문 없음)')),
        h('td', {}, log.generator),
        h('td', { class: 'num' }, `${fmtNum(log.latency_ms / 1000, 2)}초`));
      return [row, detail];
    });
    clear(box).append(
      page.items.length ? h('table', { class: 'table logs' },
        h('thead', {}, h('tr', {}, [['시각'], ['사용자'], ['종류'], ['질문'], ['생성기'], ['응답 시간', 'num']].map(([t, c]) => h('th', { class: c }, t)))),
        h('tbody', {}, rows)) : h('p', { class: 'empty' }, '기록이 없습니다.'),
      pager(page.total, offset, (o) => logPage(box, path, o).catch((err) => box.append(ctx.errorBox(err)))));
  }

  load();
  return () => { alive = false; destroyCharts(); };
}

