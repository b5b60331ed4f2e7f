// Chart.js (vendored UMD build: window.Chart) set up for the app's three kinds of chart.

const Chart = window.Chart;

export const COLORS = {
  history: '#1f2937',
  median: '#2563eb',
  band: 'rgba(37, 99, 235, 0.18)',
  bandEdge: 'rgba(37, 99, 235, 0.35)',
  conversations: '#2563eb',
  requests: '#f59e0b',
  like: '#16a34a',
  dislike: '#dc2626',
  grid: '#e5e7eb',
};

const FONT = '"Noto Sans KR", "Noto Sans CJK KR", "Apple SD Gothic Neo", "Malgun Gothic", sans-serif';

if (Chart) {
  Chart.defaults.font.family = FONT;
  Chart.defaults.color = '#374151';
  Chart.defaults.maintainAspectRatio = false;
}

export function chartAvailable() {
  return Boolean(Chart);
}

function make(canvas, config) {
  if (!Chart) throw new Error('차트 라이브러리(Chart.js)를 불러오지 못했습니다');
  return new Chart(canvas, config);
}

/**
 * History + median forecast + 80% band for one indicator (IndicatorForecast of /forecast).
 * The band is two datasets: p10 (lower edge) and p90 filled down to it ('-1').
 */
export function forecastChart(canvas, ind) {
  const hist = ind.history || [];
  const fc = ind.forecast || [];
  const labels = [...hist.map((p) => p.month), ...fc.map((p) => p.month)];
  const pad = (n) => Array(n).fill(null);
  const lastHist = hist.length ? hist[hist.length - 1] : null;
  // the forecast lines start at the last observation so they join the history line
  const joint = lastHist ? [lastHist.value] : [];
  const before = Math.max(0, hist.length - (lastHist ? 1 : 0));
  const series = (key) => [...pad(before), ...joint, ...fc.map((p) => p[key])];
  return make(canvas, {
    type: 'line',
    data: {
      labels,
      datasets: [
        { label: '실적', data: [...hist.map((p) => p.value), ...pad(fc.length)], borderColor: COLORS.history,
          backgroundColor: COLORS.history, pointRadius: 0, borderWidth: 2, tension: 0, order: 1 },
        { label: '80% 구간 하단', data: series('p10'), borderColor: COLORS.bandEdge, backgroundColor: COLORS.band,
          pointRadius: 0, borderWidth: 1, fill: false, order: 3, finrayBand: 'lower' },
        { label: '80% 예측 구간', data: series('p90'), borderColor: COLORS.bandEdge, backgroundColor: COLORS.band,
          pointRadius: 0, borderWidth: 1, fill: '-1', order: 3, finrayBand: 'upper' },
        { label: '예측 중앙값', data: series('median'), borderColor: COLORS.median, backgroundColor: COLORS.median,
          pointRadius: 2, borderWidth: 2, borderDash: [6, 4], order: 0 },
      ],
    },
    options: {
      animation: false,
      interaction: { mode: 'index', intersect: false },
      spanGaps: false,
      scales: {
        x: { ticks: { maxTicksLimit: 10, autoSkip: true }, grid: { color: COLORS.grid } },
        y: { title: { display: true, text: ind.unit }, grid: { color: COLORS.grid } },
      },
      plugins: {
        legend: { position: 'bottom', labels: { filter: (item) => item.text !== '80% 구간 하단' } },
        tooltip: {
          callbacks: {
            label: (c) => (c.raw === null ? null
              : `${c.dataset.finrayBand === 'upper' ? '80% 구간 상단' : c.dataset.label}: ${Number(c.raw).toLocaleString('ko-KR', { maximumFractionDigits: 3 })} ${ind.unit}`),
          },
        },
      },
    },
  });
}

/** Conversations and API requests per day (TrendsResponse.days). */
export function trendChart(canvas, days) {
  return make(canvas, {
    type: 'line',
    data: {
      labels: days.map((d) => d.day.slice(5)),
      datasets: [
        { label: '대화', data: days.map((d) => d.conversations), borderColor: COLORS.conversations,
          backgroundColor: COLORS.conversations, tension: 0.2, pointRadius: 2 },
        { label: 'AI 요청', data: days.map((d) => d.api_requests), borderColor: COLORS.requests,
          backgroundColor: COLORS.requests, tension: 0.2, pointRadius: 2 },
      ],
    },
    options: {
      animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}

/** Likes and dislikes per target (FeedbackStatsResponse.by_target). */
export function feedbackChart(canvas, dist) {
  const targets = [['product', '상품'], ['answer', '답변']];
  const count = (t, r) => (dist.by_target?.[t]?.[r]) || 0;
  return make(canvas, {
    type: 'bar',
    data: {
      labels: targets.map(([, ko]) => ko),
      datasets: [
        { label: '👍 좋아요', data: targets.map(([t]) => count(t, 'like')), backgroundColor: COLORS.like },
        { label: '👎 싫어요', data: targets.map(([t]) => count(t, 'dislike')), backgroundColor: COLORS.dislike },
      ],
    },
    options: {
      animation: false,
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
      plugins: { legend: { position: 'bottom' } },
    },
  });
}
