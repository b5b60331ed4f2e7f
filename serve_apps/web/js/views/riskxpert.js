// RiskXpert: pick indicators and months → history + median forecast + 80% band per indicator,
// which model and how it did in the backtest, then the summary and scenarios as they stream in.

import { apiFetch, consumeEvents } from '../api.js';
import { forecastChart } from '../charts.js';
import { clear, fmtInt, fmtNum, fmtPct, h } from '../dom.js';

// The API's indicator keys (finray/riskxpert/schemas.py IndicatorKey), in its catalogue order.
const INDICATORS = [
  ['base_rate', '한국은행 기준금리'], ['usd_krw', '원/달러 환율'], ['kospi', 'KOSPI'],
  ['ktb3y', '국고채 3년'], ['cpi', '소비자물가지수'],
];
// Customer names of the models (the same as finray/forecasting/selection.py MODEL_KO).
const MODEL_KO = {
  naive: '직전 값 유지 모델',
  seasonal_naive: '작년 같은 달 기준 모델',
  drift: '단순 추세 모델',
  ets: '지수평활 모델',
  patchtst: 'AI 시계열 모델',
};
const CASES = [['낙관', 'optimistic'], ['기준', 'base'], ['비관', 'pessimistic']];
const GENERATOR = { offline: '기본 답변', gemini: 'AI 답변(Gemini)', 'gemini→offline': '기본 답변(AI 답변 대체)' };

/** relMASE (model error ÷ the "last value stays" error) in words: "0.85배 (더 정확)". */
function relativeError(rel) {
  if (rel === null || rel === undefined) return '정보 없음';
  const verdict = rel < 1 ? '더 정확' : rel > 1 ? '덜 정확' : '같음';
  return `${Number(rel).toFixed(2)}배 (${verdict})`;
}

/** "20261204T161121Z-d90a703d" → "2026.12.04 학습 모델" (the full version stays in a tooltip). */
function versionLabel(version) {
  const m = /^(\d{4})(\d{2})(\d{2})T/.exec(version || '');
  return m ? `${m[1]}.${m[2]}.${m[3]} 학습 모델` : '최신 모델';
}

export function mount(container, ctx) {
  let alive = true;
  let controller = null;
  let charts = [];

  const boxes = INDICATORS.map(([key, name], i) => h('label', { class: 'check' },
    h('input', { type: 'checkbox', name: 'indicator', value: key, checked: i < 2 }), ` ${name}`));
  const months = h('input', { type: 'range', id: 'fx-months', min: '1', max: '24', value: '12', step: '1' });
  const monthsOut = h('output', { for: 'fx-months', id: 'fx-months-out' }, '12개월');
  months.addEventListener('input', () => { monthsOut.textContent = `${months.value}개월`; });
  const history = h('select', { id: 'fx-history' },
    [['12', '최근 1년'], ['24', '최근 2년'], ['60', '최근 5년'], ['120', '최근 10년']].map(([v, t]) =>
      h('option', { value: v, selected: v === '24' }, t)));
  const question = h('textarea', { id: 'fx-question', rows: '2', maxlength: '2000', placeholder: '예: 내년 금리와 환율은 어떻게 될까요? (선택)' });
  const runBtn = h('button', { type: 'submit', class: 'btn', id: 'fx-run' }, '전망 보기');
  const formError = h('div', { id: 'fx-form-error' });
  const status = h('p', { class: 'status-line', id: 'fx-status', role: 'status' });
  const chartsBox = h('div', { class: 'fx-charts', id: 'fx-charts' });
  const summary = h('p', { class: 'answer-text', id: 'fx-summary', dataset: { chunks: '0' } });
  const scenarioEls = Object.fromEntries(CASES.map(([ko, en]) => [ko,
    h('p', { class: 'answer-text', id: `fx-scenario-${en}`, dataset: { chunks: '0' } })]));
  const narrative = h('section', { class: 'fx-narrative', id: 'fx-narrative', hidden: true },
    h('h2', {}, '요약'), summary,
    h('h2', {}, '시나리오'),
    h('div', { class: 'scenarios' }, CASES.map(([ko, en]) => h('div', { class: `scenario ${en}` },
      h('h3', {}, `${ko} 시나리오`), scenarioEls[ko]))));
  const doneBox = h('p', { class: 'muted small', id: 'fx-done' });
  const errorBox = h('div', { id: 'fx-error' });

  container.append(
    h('div', { class: 'panel-head' },
      h('h1', {}, 'RiskXpert 경제 전망'),
      h('p', { class: 'muted' }, '한국은행 ECOS 지표의 과거 추이와 앞으로의 예측(중앙값과 80% 구간)을 보여 드립니다. 예측은 불확실하며 투자 권유가 아닙니다.')),
    h('div', { class: 'fx-grid' },
      h('form', { class: 'panel fx-form', onsubmit: (e) => { e.preventDefault(); run(); } },
        h('fieldset', {}, h('legend', {}, '지표'), boxes),
        h('label', { class: 'stack' }, h('span', {}, '예측 기간 ', monthsOut), months),
        h('label', { class: 'stack' }, '함께 볼 과거', history),
        h('label', { class: 'stack' }, '질문 (선택)', question),
        formError, runBtn),
      h('div', { class: 'fx-results' }, status, errorBox, chartsBox, narrative, doneBox)),
  );

  function destroyCharts() {
    for (const c of charts) c.destroy();
    charts = [];
  }

  function renderIndicator(ind) {
    const canvas = h('canvas', { id: `fx-chart-${ind.indicator}`, 'aria-label': `${ind.name_ko} 과거 추이와 예측 차트`, role: 'img' });
    const s = ind.skill || {};
    const last = ind.forecast[ind.forecast.length - 1];
    const card = h('article', { class: 'panel fx-card', dataset: { indicator: ind.indicator } },
      h('div', { class: 'fx-card-head' },
        h('h2', {}, ind.name_ko, h('span', { class: 'muted small' }, ` (${ind.unit})`)),
        h('span', { class: 'muted small' }, `마지막 관측 ${ind.as_of}`)),
      ind.warning_ko || ind.warning ? h('p', { class: 'warn-box fx-warning' },
        `⚠ 자료 시점 안내: ${ind.warning_ko || '이 지표의 공개 자료가 오래되어, 예측은 오늘이 아니라 마지막 자료 다음 달부터 시작합니다.'}`) : null,
      h('div', { class: 'chart-wrap' }, canvas),
      last ? h('p', { class: 'fx-headline' },
        `${last.month} 예측: 중앙값 ${fmtNum(last.median, 3)} ${ind.unit} (80% 구간 ${fmtNum(last.p10, 3)} ~ ${fmtNum(last.p90, 3)})`) : null,
      h('dl', { class: 'skill', dataset: { model: ind.model } },
        h('div', {}, h('dt', {}, '예측 모델'), h('dd', { class: 'fx-model' }, MODEL_KO[ind.model] || '통계 예측 모델')),
        h('div', {}, h('dt', {}, '오차 (직전 값 유지 대비)'), h('dd', { class: 'fx-rel-error', title: '1보다 작으면 직전 값을 그대로 쓰는 예측보다 정확했습니다' },
          relativeError(s.rel_mase))),
        h('div', {}, h('dt', {}, '80% 구간 적중률'), h('dd', {}, s.coverage === null || s.coverage === undefined ? '정보 없음' : fmtPct(s.coverage))),
        h('div', {}, h('dt', {}, '평균 오차'), h('dd', {}, s.mae === null || s.mae === undefined ? '정보 없음' : `${fmtNum(s.mae, 3)} ${ind.unit}`)),
        h('div', {}, h('dt', {}, '과거 검증 횟수'), h('dd', {}, `${fmtInt(s.n)}건`))),
      // the customer text; `reason` (English, for logs) is never shown
      h('p', { class: 'muted small fx-reason' }, ind.reason_ko || `예측 모델: ${MODEL_KO[ind.model] || '통계 예측 모델'}(과거 검증으로 고른 모델).`),
    );
    chartsBox.append(card);
    charts.push(forecastChart(canvas, ind));
  }

  async function run() {
    const indicators = boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    clear(formError);
    if (!indicators.length) {
      formError.append(h('p', { class: 'error-message', role: 'alert' }, '지표를 하나 이상 골라 주세요.'));
      return;
    }
    controller?.abort();
    controller = new AbortController();
    const mine = controller;
    destroyCharts();
    clear(chartsBox);
    clear(errorBox);
    clear(summary);
    summary.dataset.chunks = '0';
    for (const el of Object.values(scenarioEls)) { clear(el); el.dataset.chunks = '0'; }
    narrative.hidden = true;
    doneBox.textContent = '';
    status.textContent = '예측을 불러오는 중…';
    status.dataset.state = 'loading';
    runBtn.disabled = true;
    let gotNumbers = false;
    try {
      const response = await apiFetch('forecast/stream', {
        method: 'POST', accept: 'text/event-stream', signal: mine.signal,
        json: { indicators, months: Number(months.value), history_months: Number(history.value), question: question.value.trim(), user_id: ctx.me.user_id },
      });
      await consumeEvents(response, {
        forecast: (fc) => {
          gotNumbers = true;
          for (const ind of fc.indicators) renderIndicator(ind);
          status.textContent = `${versionLabel(fc.version)} · ${fc.months}개월 예측 · 요약 작성 중…`;
          status.title = `모델 버전 ${fc.version}`;
          narrative.hidden = false;
        },
        summary: (c) => {
          summary.append(h('span', { class: 'chunk' }, c.text));
          summary.dataset.chunks = String(Number(summary.dataset.chunks) + 1);
        },
        scenario: (c) => {
          const el = scenarioEls[c.case];
          if (el) {
            el.append(h('span', { class: 'chunk' }, c.text));
            el.dataset.chunks = String(Number(el.dataset.chunks) + 1);
          }
          status.textContent = '시나리오 작성 중…';
        },
        done: (d) => {
          status.dataset.state = 'ready';
          status.textContent = `전망 완료 · ${versionLabel(d.version)}`;
          status.title = `모델 버전 ${d.version}`;
          const gens = Object.entries(d.generators || {}).map(([stage, g]) => `${stage === 'summary' ? '요약' : '시나리오'}: ${GENERATOR[g] || g}`);
          doneBox.textContent = [d.cached ? '저장된 답변을 다시 보여 드렸습니다' : `${(d.elapsed_ms / 1000).toFixed(1)}초 만에 작성`, ...gens].join(' · ');
        },
      });
    } catch (err) {
      if (err.name === 'AbortError' || !alive) return;
      status.dataset.state = 'error';
      status.textContent = gotNumbers ? '예측 수치는 받았지만 설명을 끝까지 받지 못했습니다.' : '';
      errorBox.append(ctx.errorBox(err, { retry: run }));
    } finally {
      if (mine === controller) runBtn.disabled = false;
    }
  }

  run();
  return () => {
    alive = false;
    controller?.abort();
    destroyCharts();
  };
}
