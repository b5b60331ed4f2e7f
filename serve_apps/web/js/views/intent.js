// What an answer shows besides its text (finray/advice/presentation.py): the understood intent as
// removable chips, notices, a rate comparison table and computed interest. Used by the chat and
// the recommendation panel of the advisor view. All numbers come from the server's data fields,
// never from the answer text; a missing value reads "정보 없음", never 0.

import { h } from '../dom.js';

const MISSING = '정보 없음';

// --- formatting ----------------------------------------------------------------------------------

const isNum = (x) => x !== null && x !== undefined && x !== '' && Number.isFinite(Number(x));

/** 3.5 → "연 3.50%"; null → "정보 없음". */
export const fmtRate = (pct) => (isNum(pct) ? `연 ${Number(pct).toFixed(2)}%` : MISSING);

/** 520000 → "520,000원". */
export const fmtWon = (n) => (isNum(n) ? `${Math.round(Number(n)).toLocaleString('ko-KR')}원` : MISSING);

/** "202501" (or "2025-01") → "2025.01". */
export function fmtMonth(yyyymm) {
  const m = /^(\d{4})-?(\d{2})/.exec(String(yyyymm || ''));
  return m ? `${m[1]}.${m[2]}` : MISSING;
}

/** Money as people write it (finray/intent/model.py won_label): 30,000,000 → "3,000만원". */
export function wonLabel(amount) {
  const a = Number(amount);
  if (!Number.isFinite(a)) return MISSING;
  const n = (x) => x.toLocaleString('ko-KR');
  if (a >= 100_000_000 && a % 100_000_000 === 0) return `${n(a / 100_000_000)}억원`;
  if (a >= 100_000_000 && a % 10_000 === 0) {
    const man = a / 10_000;
    return `${n(Math.floor(man / 10_000))}억 ${n(man % 10_000)}만원`;
  }
  if (a >= 10_000 && a % 10_000 === 0) return `${n(a / 10_000)}만원`;
  return `${n(a)}원`;
}

// --- intent chips ----------------------------------------------------------------------------------

/** Request fields that set a slot explicitly (ChatRequest / the recommendation query). */
export const EXPLICIT_FIELD = { product_types: 'product_types', term_months: 'term_months', amount: 'amount', providers: 'provider' };

/**
 * The understood intent as chips, each with a remove button; null when nothing was understood.
 * onRemove(chip) is called when the customer removes one; the buttons stay disabled until what it
 * returns (a promise, e.g. the re-asked answer) settles. Without onRemove the chips have no buttons.
 */
export function intentChips(view, { onRemove, id } = {}) {
  if (!view || !view.summary || !(view.chips || []).length) return null;
  const box = h('div', { class: 'intent', role: 'group', 'aria-label': '이해한 조건', id, dataset: { summary: view.summary } },
    h('span', { class: 'intent-title', 'aria-hidden': 'true' }, '이해한 조건'));
  const list = h('ul', { class: 'intent-chips' });
  for (const chip of view.chips) {
    const remove = onRemove ? h('button', {
      type: 'button', class: 'intent-remove', 'aria-label': `${chip.label} 조건 지우기`, title: `${chip.label} 조건 지우기`,
      onclick: () => {
        const buttons = [...box.querySelectorAll('.intent-remove')];
        for (const b of buttons) b.disabled = true;
        Promise.resolve(onRemove(chip)).catch(() => {}).finally(() => { for (const b of buttons) b.disabled = false; });
      },
    }, '×') : null;
    list.append(h('li', { class: 'intent-chip', dataset: { slot: chip.slot, value: chip.value } },
      h('span', { class: 'intent-label' }, chip.label), remove));
  }
  box.append(list);
  return box;
}

/**
 * The request to send after the customer removed `chip` from what `view` understood of `request`.
 * One value of several (정기예금 of 정기예금·적금; one of two 금융회사) is taken out by sending the
 * rest explicitly; anything else is dropped as a slot (``drop``), so the server does not read it
 * from the question again. Other explicit fields stay as they were.
 */
export function withoutChip(request, chip, view) {
  const next = { ...request, drop: [...(request.drop || [])] };
  const rest = (view?.chips || []).filter((c) => c.slot === chip.slot && c.value !== chip.value).map((c) => c.value);
  const catalogueNames = view?.intent?.providers || [];
  if (chip.slot === 'product_types' && rest.length) {
    next.product_types = rest;
    return next;
  }
  if (chip.slot === 'providers' && rest.length && rest.every((name) => catalogueNames.includes(name))) {
    next.provider = rest;
    return next;
  }
  const field = EXPLICIT_FIELD[chip.slot];
  if (field) delete next[field];
  if (!next.drop.includes(chip.slot)) next.drop.push(chip.slot);
  return next;
}

/** Notices ("6개월 상품이 없어 9개월 상품을 안내합니다.") as a visible note; null when none. */
export function noticeBox(notices, { id } = {}) {
  const list = [...new Set((notices || []).filter(Boolean))];
  if (!list.length) return null;
  return h('div', { class: 'intent-notices', role: 'note', 'aria-label': '안내', id },
    list.map((n) => h('p', { class: 'intent-notice' }, h('span', { 'aria-hidden': 'true' }, 'ⓘ '), n)));
}

/** A nearest-alternative note on a card, a cited product or a table row. */
export const alternativeNote = (note) => (note
  ? h('p', { class: 'alt-note' }, h('span', { class: 'badge warn' }, '대안 상품'), ' ', note) : null);

// --- comparison ------------------------------------------------------------------------------------

const SORT_KO = { max_rate: '최고금리 높은 순', base_rate: '기본금리 높은 순', loan_rate: '금리 낮은 순' };

/** The comparison table, rows in the order received; null when there are no rows. */
export function comparisonTable(comparison, { id } = {}) {
  const rows = comparison?.rows || [];
  if (!rows.length) return null;
  const loan = comparison.sort_by === 'loan_rate';
  const caption = ['금리 비교',
    comparison.term_months ? `${comparison.term_months}개월` : null,
    SORT_KO[comparison.sort_by] || null,
    comparison.latest_disclosure ? `최신 공시 ${fmtMonth(comparison.latest_disclosure)}` : null,
  ].filter(Boolean).join(' · ');
  const cols = ['상품', '기간', loan ? '최저금리' : '기본금리', loan ? '최고금리' : '최고금리', '우대조건', '공시월'];
  const table = h('table', { class: 'table compare', dataset: { sortBy: comparison.sort_by || '' } },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, cols.map((c, i) => h('th', { scope: 'col', class: i >= 2 && i <= 3 ? 'num' : null }, c)))),
    h('tbody', {}, rows.map((r) => h('tr', { dataset: { productId: r.product_id, older: String(Boolean(r.older_disclosure)) } },
      h('th', { scope: 'row', class: 'c-product' },
        h('span', { class: 'c-name' }, r.name || MISSING),
        h('span', { class: 'c-provider' }, r.provider || MISSING),
        r.alternative_note ? h('span', { class: 'c-alt' }, r.alternative_note) : null),
      h('td', { class: 'c-term' }, isNum(r.term_months) ? `${r.term_months}개월` : MISSING),
      h('td', { class: 'num c-base', dataset: { value: isNum(r.base_rate) ? String(r.base_rate) : '' } }, fmtRate(r.base_rate)),
      h('td', { class: 'num c-max', dataset: { value: isNum(r.max_rate) ? String(r.max_rate) : '' } }, fmtRate(r.max_rate),
        r.interest_type ? h('span', { class: 'c-kind' }, r.interest_type) : null),
      h('td', { class: 'c-cond', title: r.conditions || null }, r.conditions || '없음'),
      h('td', { class: 'c-month' }, fmtMonth(r.disclosure_month),
        r.older_disclosure ? h('span', { class: 'badge warn c-older' }, '이전 공시') : null),
    ))));
  return h('div', { class: 'compare-wrap', id, role: 'region', 'aria-label': caption, tabindex: '0' }, table);
}

// --- computed interest -------------------------------------------------------------------------------

const METHOD_KO = { simple: '단리', monthly_compound: '월복리' };
const RATE_KIND_KO = { base: '기본', max: '최고' };

/** "1,000만원 · 12개월 · 최고 연 5.20%(단리) → 세전 이자 520,000원, 세후 이자 439,920원 (계산값, 이자소득세 15.4%)". */
export function computedLine(c) {
  const amount = c.amount_period === 'monthly' ? `월 ${wonLabel(c.amount_krw)}` : wonLabel(c.amount_krw);
  const rate = `${RATE_KIND_KO[c.rate_kind] || ''} ${fmtRate(c.rate_pct)}(${METHOD_KO[c.method] || c.method})`.trim();
  const paidIn = c.amount_period === 'monthly' && isNum(c.paid_in_krw) ? `, 납입 원금 ${fmtWon(c.paid_in_krw)}` : '';
  const tax = isNum(c.tax_rate_pct) ? `이자소득세 ${Number(c.tax_rate_pct)}%` : '이자소득세 반영';
  return `${amount} · ${c.term_months}개월 · ${rate} → 세전 이자 ${fmtWon(c.pre_tax_krw)}, 세후 이자 ${fmtWon(c.post_tax_krw)}${paidIn} (계산값, ${tax})`;
}

/** The computed interest per product; null when there is none. */
export function computedList(computed, { id } = {}) {
  const items = computed || [];
  if (!items.length) return null;
  return h('section', { class: 'computed', id, 'aria-label': '예상 이자 계산' },
    h('h4', { class: 'computed-title' }, '예상 이자 (계산값)'),
    h('ul', {}, items.map((c) => h('li', { class: 'computed-item', dataset: { productId: c.product_id } },
      h('strong', { class: 'computed-name' }, c.name), ' ',
      h('span', { class: 'computed-line' }, computedLine(c))))),
    h('p', { class: 'muted small' }, '공시 금리로 단순 계산한 값이며, 실제 이자는 가입 조건·우대 충족 여부에 따라 달라질 수 있습니다.'));
}
