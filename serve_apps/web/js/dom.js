// Small DOM helpers. Text always goes in as text nodes (never innerHTML), so product names,
// answers and log contents from the server cannot inject markup.

/**
 * h('div', {class: 'card', onclick: fn, dataset: {id: 'x'}}, 'text', child, [more children])
 * Attributes: `class`, `dataset`, `on<event>` handlers, booleans (`hidden`, `disabled`…), the rest
 * as attributes. Children: strings, nodes, arrays, null/undefined/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('ko-KR'));

export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '–';
  return Number(n).toLocaleString('ko-KR', { maximumFractionDigits: digits });
}

export function fmtPct(share, digits = 0) {
  if (share === null || share === undefined) return '–';
  return `${(Number(share) * 100).toFixed(digits)}%`;
}

export function fmtDateTime(iso) {
  if (!iso) return '–';
  // chat logs are naive UTC timestamps: say so, instead of guessing a zone
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('ko-KR', { dateStyle: 'short', timeStyle: 'short' });
}

/** A loading line that can be swapped out. */
export const spinner = (text = '불러오는 중…') => h('p', { class: 'loading' }, text);
