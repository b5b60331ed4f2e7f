// Advisor: personal recommendation cards with 👍/👎 feedback, and a streaming chat.

import { apiFetch, apiJson, consumeEvents } from '../api.js';
import { append, clear, h, spinner } from '../dom.js';
import { alternativeNote, comparisonTable, computedList, fmtMonth, intentChips, noticeBox, withoutChip } from './intent.js';

const TYPES = [
  ['', '전체'], ['deposit', '정기예금'], ['saving', '적금'], ['annuity', '연금저축'], ['fund', '펀드'],
  ['credit_loan', '개인신용대출'], ['mortgage_loan', '주택담보대출'], ['rent_loan', '전세자금대출'],
];
const TERMS = [['', '전체'], ['6', '6개월'], ['12', '12개월'], ['24', '24개월'], ['36', '36개월']];
const EXAMPLES = [
  '12개월 정기예금 중 금리가 높은 상품 추천해 주세요',
  '위험이 낮은 펀드를 알려 주세요',
  '노후 준비용 연금저축 상품이 궁금해요',
];
const EXCLUDED_KIND = { disliked: '관심 없음 표시', unsuitable: '투자성향 부적합' };
const GENERATOR = { offline: '기본 답변', gemini: 'AI 답변(Gemini)', 'gemini→offline': '기본 답변(AI 답변 대체)' };

export const cardId = (productId) => `card-${productId.replace(/[^A-Za-z0-9_-]/g, '_')}`;

export function mount(container, ctx) {
  const userId = ctx.me.user_id;
  const aborts = new Set();
  let alive = true;
  let lastItems = null; // product ids of the previous recommendation list (to show what changed)
  const liked = new Set();
  // what the customer took out of the recommendation's understood conditions (reset by 추천 받기)
  let recOverride = { drop: [] };

  // --- layout -----------------------------------------------------------------------------------
  const typeSel = h('select', { id: 'rec-type', name: 'type' }, TYPES.map(([v, t]) => h('option', { value: v }, t)));
  const termSel = h('select', { id: 'rec-term', name: 'term' }, TERMS.map(([v, t]) => h('option', { value: v }, t)));
  const amount = h('input', { id: 'rec-amount', type: 'number', min: '1', step: '10000', placeholder: '예: 10000000', inputmode: 'numeric' });
  const wish = h('input', { id: 'rec-q', type: 'text', name: 'q', maxlength: '200', placeholder: '예: 우리은행 12개월 정기예금', autocomplete: 'off' });
  const recStatus = h('p', { class: 'status-line', id: 'rec-status', role: 'status' });
  const recIntent = h('div', { id: 'rec-intent' });
  const recExtra = h('div', { id: 'rec-extra' });
  const cards = h('div', { class: 'cards', id: 'rec-cards' });
  const excludedBox = h('div', { id: 'rec-excluded' });
  const summaryBox = h('div', { id: 'rec-summary' });

  const messages = h('div', { class: 'messages', id: 'chat-messages', 'aria-live': 'polite' },
    h('p', { class: 'muted chat-hint' }, '궁금한 점을 물어보세요. 답변은 작성되는 대로 바로 표시됩니다.'));
  const question = h('textarea', { id: 'chat-input', rows: '2', maxlength: '2000', placeholder: '예: 12개월 정기예금 중 금리가 높은 상품 추천해 주세요' });
  const sendBtn = h('button', { type: 'submit', class: 'btn', id: 'chat-send' }, '보내기');
  const stopBtn = h('button', { type: 'button', class: 'btn ghost', id: 'chat-stop', hidden: true }, '중지');

  container.append(
    h('div', { class: 'advisor-grid' },
      h('section', { class: 'panel', 'aria-labelledby': 'rec-title' },
        h('div', { class: 'panel-head' },
          h('h1', { id: 'rec-title' }, '맞춤 추천 상품'),
          h('p', { class: 'muted' }, '내 투자성향(적합성 원칙)과 피드백을 반영한 추천입니다.')),
        h('form', { class: 'filters', onsubmit: (e) => { e.preventDefault(); recOverride = { drop: [] }; loadRecommendations(); } },
          h('label', { class: 'wish' }, '원하는 상품 (선택)', wish),
          h('label', {}, '상품 유형', typeSel),
          h('label', {}, '가입 기간', termSel),
          h('label', {}, '금액(원)', amount),
          h('button', { type: 'submit', class: 'btn', id: 'rec-load' }, '추천 받기')),
        recStatus, recIntent, recExtra, summaryBox, cards, excludedBox),
      h('section', { class: 'panel chat', 'aria-labelledby': 'chat-title' },
        h('div', { class: 'panel-head' },
          h('h2', { id: 'chat-title' }, 'AI 상담'),
          h('p', { class: 'muted' }, '답변의 상품 이름과 숫자는 공시 데이터로 검증됩니다.')),
        messages,
        h('div', { class: 'examples' }, EXAMPLES.map((q) => h('button', {
          type: 'button', class: 'chip', onclick: () => { question.value = q; question.focus(); },
        }, q))),
        h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); ask(); } },
          question, h('div', { class: 'composer-actions' }, stopBtn, sendBtn))),
    ),
  );
  question.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); ask(); }
  });

  // --- recommendations ------------------------------------------------------------------------------
  function track(controller) {
    aborts.add(controller);
    return () => aborts.delete(controller);
  }

  async function loadRecommendations(note, { chip = false } = {}) {
    const controller = new AbortController();
    const done = track(controller);
    recStatus.textContent = note || '추천 상품을 찾는 중…';
    recStatus.dataset.state = 'loading';
    if (!cards.firstChild) cards.append(spinner('추천 상품을 찾는 중…'));
    try {
      const params = recParams();
      const rec = await apiJson(`recommendations/${encodeURIComponent(userId)}`, { params, signal: controller.signal });
      if (!alive) return;
      renderRecommendations(rec, chip ? null : note);
    } catch (err) {
      if (err.name === 'AbortError' || !alive) return;
      recStatus.textContent = '';
      recStatus.dataset.state = 'error';
      clear(cards).append(ctx.errorBox(err, { retry: () => loadRecommendations() }));
    } finally {
      done();
    }
  }

  /** The query: the form, then what the customer changed through the chips (recOverride). */
  function recParams() {
    const o = recOverride;
    return {
      q: wish.value.trim() || undefined,
      type: o.product_types || typeSel.value || undefined,
      term_months: termSel.value || undefined,
      amount: amount.value || undefined,
      provider: o.provider,
      drop: o.drop.length ? o.drop : undefined,
      k: 5,
    };
  }

  /** The customer removed a chip of the recommendation's intent: ask again without it. */
  function removeRecChip(chip, view) {
    const before = { ...recOverride, drop: [...recOverride.drop] };
    if (!before.product_types && typeSel.value) before.product_types = [typeSel.value];
    const next = withoutChip(before, chip, view);
    // a form control that set the removed slot is cleared, so the form shows what is asked
    if (!next.product_types) typeSel.value = '';
    else if (next.product_types.length === 1 && TYPES.some(([v]) => v === next.product_types[0])) {
      typeSel.value = next.product_types[0];
      delete next.product_types;
    } else typeSel.value = '';
    if (chip.slot === 'term_months') termSel.value = '';
    if (chip.slot === 'amount') amount.value = '';
    recOverride = next;
    return loadRecommendations(`'${chip.label}' 조건을 빼고 다시 추천하는 중…`, { chip: true });
  }

  function renderRecommendations(rec, note) {
    const ids = rec.items.map((i) => i.product_id);
    const fresh = lastItems ? ids.filter((id) => !lastItems.includes(id)) : [];
    const gone = lastItems ? lastItems.filter((id) => !ids.includes(id)) : [];
    lastItems = ids;
    recStatus.dataset.state = 'ready';
    let text = `${rec.items.length}개 상품을 추천합니다.`;
    if (note && (fresh.length || gone.length)) text = `피드백을 반영했습니다: ${gone.length}개 제외, ${fresh.length}개 새로 추천.`;
    else if (note) text = '피드백을 반영해 추천 순서를 다시 계산했습니다.';
    recStatus.textContent = text;

    append(clear(recIntent), [
      intentChips(rec.intent, { id: 'rec-chips', onRemove: (chip) => removeRecChip(chip, rec.intent) }),
      noticeBox(rec.notices, { id: 'rec-notices' })]);
    append(clear(recExtra), [
      comparisonTable(rec.comparison, { id: 'rec-comparison' }),
      computedList(rec.computed, { id: 'rec-computed' })]);

    clear(summaryBox).append(h('details', { class: 'summary' },
      h('summary', {}, '추천 설명 전체 보기 ',
        h('span', { class: `badge ${rec.verified ? 'ok' : 'warn'}` }, rec.verified ? '검증 완료' : '검증 실패'),
        h('span', { class: 'badge' }, GENERATOR[rec.generator] || rec.generator)),
      h('p', { class: 'answer-text' }, rec.summary)));

    clear(cards);
    if (!rec.items.length) cards.append(h('p', { class: 'empty' }, '조건에 맞는 추천 상품이 없습니다. 조건을 바꿔 보세요.'));
    for (const item of rec.items) cards.append(productCard(item, fresh.includes(item.product_id)));

    clear(excludedBox);
    if (rec.excluded.length) {
      excludedBox.append(h('details', { class: 'excluded', open: Boolean(note) },
        h('summary', {}, `추천에서 제외된 상품 (${rec.excluded.length})`),
        h('ul', {}, rec.excluded.map((x) => h('li', { dataset: { productId: x.product_id, kind: x.kind } },
          h('strong', {}, x.name), ' ',
          h('span', { class: `badge ${x.kind === 'disliked' ? 'warn' : ''}` }, EXCLUDED_KIND[x.kind] || x.kind),
          h('p', { class: 'muted' }, x.reason))))));
    }
  }

  function productCard(item, isNew) {
    const numbers = Object.entries(item.key_numbers || {});
    const hasGrade = numbers.some(([k]) => k === '위험등급');
    const likeBtn = h('button', {
      type: 'button', class: 'btn small outline fb-like', 'aria-pressed': String(liked.has(item.product_id)),
      onclick: () => rate(item, 'like', card),
    }, '👍 좋아요');
    const dislikeBtn = h('button', {
      type: 'button', class: 'btn small outline fb-dislike', 'aria-pressed': 'false',
      onclick: () => rate(item, 'dislike', card),
    }, '👎 관심 없음');
    const card = h('article', { class: `card${isNew ? ' new' : ''}`, id: cardId(item.product_id), dataset: { productId: item.product_id }, tabindex: '-1' },
      h('div', { class: 'card-head' },
        h('span', { class: `badge type-${item.product_type}` }, item.product_type_ko),
        isNew ? h('span', { class: 'badge ok' }, '새로 추천') : null,
        liked.has(item.product_id) ? h('span', { class: 'badge ok' }, '👍 좋아요 표시함') : null),
      h('h3', { class: 'card-name' }, item.name),
      h('p', { class: 'provider' }, item.provider),
      numbers.length ? h('dl', { class: 'numbers' }, numbers.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))) : null,
      !hasGrade && item.risk_grade ? h('p', { class: 'muted' }, `위험등급 ${item.risk_grade}등급`) : null,
      item.terms && item.terms.length ? h('p', { class: 'muted' }, `가입 기간: ${item.terms.map((t) => `${t}개월`).join(' · ')}`) : null,
      alternativeNote(item.alternative_note),
      h('p', { class: 'reason' }, h('strong', {}, '추천 이유 '), item.reason),
      item.suitability_note ? h('p', { class: 'suitability' }, h('strong', {}, '적합성 '), item.suitability_note) : null,
      item.disclosure_month ? h('p', { class: 'muted small' }, `공시 기준 ${fmtMonth(item.disclosure_month)}`) : null,
      h('div', { class: 'card-actions' }, likeBtn, dislikeBtn),
    );
    return card;
  }

  async function rate(item, rating, card) {
    const buttons = card.querySelectorAll('.card-actions button');
    for (const b of buttons) b.disabled = true;
    try {
      await apiJson('chat/feedback', {
        method: 'POST', json: { user_id: userId, target: 'product', target_id: item.product_id, rating },
      });
      if (rating === 'like') liked.add(item.product_id);
      else liked.delete(item.product_id);
      if (!alive) return;
      await loadRecommendations(rating === 'like' ? '👍 좋아요를 반영해 다시 추천하는 중…' : '👎 관심 없음을 반영해 다시 추천하는 중…');
    } catch (err) {
      for (const b of buttons) b.disabled = false;
      card.append(ctx.errorBox(err));
    }
  }

  // --- chat ------------------------------------------------------------------------------------------
  let streaming = null;

  function focusCard(product) {
    const el = document.getElementById(cardId(product.product_id));
    if (!el) return false;
    el.scrollIntoView({ behavior: 'smooth', block: 'center' });
    el.classList.remove('flash');
    void el.offsetWidth; // restart the highlight animation
    el.classList.add('flash');
    el.focus({ preventScroll: true });
    return true;
  }

  function citedList(cited) {
    return h('ul', { class: 'cited' }, cited.map((c) => {
      const detail = h('div', { class: 'cited-detail', hidden: true },
        h('p', {}, c.provider),
        h('dl', { class: 'numbers' }, Object.entries(c.key_numbers || {}).map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
        h('p', { class: 'reason' }, c.reason),
        c.suitability_note ? h('p', { class: 'suitability' }, c.suitability_note) : null);
      return h('li', { dataset: { productId: c.product_id } },
        h('button', {
          type: 'button', class: 'link cited-link', dataset: { productId: c.product_id },
          title: '추천 카드로 이동',
          onclick: () => { if (!focusCard(c)) detail.hidden = !detail.hidden; },
        }, `${c.name} · ${c.provider}`),
        alternativeNote(c.alternative_note),
        detail);
    }));
  }

  /** The final answer with every cited product's name turned into a link to its card. */
  function linkedAnswer(text, cited) {
    const names = [...new Set(cited.map((c) => c.name))].filter(Boolean).sort((a, b) => b.length - a.length);
    if (!names.length) return [text];
    const byName = new Map(cited.map((c) => [c.name, c]));
    const pattern = new RegExp(names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
    const out = [];
    let at = 0;
    for (const m of text.matchAll(pattern)) {
      if (m.index > at) out.push(text.slice(at, m.index));
      const product = byName.get(m[0]);
      out.push(h('button', { type: 'button', class: 'link inline-cite', dataset: { productId: product.product_id },
        onclick: () => focusCard(product) }, m[0]));
      at = m.index + m[0].length;
    }
    if (at < text.length) out.push(text.slice(at));
    return out;
  }

  function ask() {
    const q = question.value.trim();
    if (!q || streaming) return;
    question.value = '';
    send({ user_id: userId, question: q, k: 3 });
  }

  /**
   * One chat turn: the request (question plus any explicit fields and `drop`) streamed into a new
   * answer bubble. `removed`: the chip whose removal made this turn (shown with the question).
   */
  async function send(request, removed = null) {
    if (streaming) return false;
    messages.querySelector('.chat-hint')?.remove();
    messages.append(h('div', { class: 'msg user' }, h('p', {}, request.question),
      removed ? h('p', { class: 'msg-note' }, `'${removed.label}' 조건을 빼고 다시 물었습니다`) : null));
    const status = h('p', { class: 'msg-status' }, '질문을 보냈습니다…');
    const intentBox = h('div', { class: 'msg-intent' });
    const answer = h('p', { class: 'answer-text streaming', dataset: { chunks: '0' } });
    const extra = h('div', { class: 'msg-extra' });
    const bubble = h('div', { class: 'msg assistant', dataset: { state: 'waiting' } }, status, intentBox, answer, extra);
    messages.append(bubble);
    messages.scrollTop = messages.scrollHeight;

    const showIntent = (view, notices) => {
      append(clear(intentBox), [
        intentChips(view, { onRemove: (chip) => send(withoutChip(request, chip, view), chip) }),
        noticeBox(notices)]);
    };

    const controller = new AbortController();
    const untrack = track(controller);
    streaming = controller;
    sendBtn.disabled = true;
    stopBtn.hidden = false;
    let chunks = 0;
    try {
      const response = await apiFetch('chat/stream', {
        method: 'POST', json: request, accept: 'text/event-stream', signal: controller.signal,
      });
      bubble.dataset.state = 'streaming';
      await consumeEvents(response, {
        meta: (m) => {
          status.textContent = `상품 ${m.candidates}개를 살펴보고 ${m.recommended}개를 골랐습니다`
            + (m.excluded.length ? ` (${m.excluded.length}개 제외)` : '') + ' · 답변 작성 중…';
          showIntent(m.intent, m.notices);
        },
        delta: (d) => {
          chunks += 1;
          answer.append(h('span', { class: 'chunk' }, d.text));
          answer.dataset.chunks = String(chunks);
          messages.scrollTop = messages.scrollHeight;
        },
        done: (d) => {
          answer.classList.remove('streaming');
          clear(answer).append(...linkedAnswer(d.answer, d.cited));
          answer.dataset.chunks = String(chunks);
          status.textContent = `답변 완료 · ${(d.latency_ms / 1000).toFixed(1)}초`;
          if (d.intent) showIntent(d.intent, d.notices);
          append(extra, [
            comparisonTable(d.comparison),
            computedList(d.computed),
            h('div', { class: 'badges' },
              h('span', { class: `badge ${d.verified ? 'ok' : 'warn'}` }, d.verified ? '숫자·상품명 검증 완료' : '검증 실패: 참고만 하세요'),
              h('span', { class: 'badge' }, GENERATOR[d.generator] || d.generator)),
            d.cited.length ? h('p', { class: 'muted small' }, '언급된 상품 (누르면 추천 카드로 이동):') : null,
            citedList(d.cited),
            d.excluded.length ? h('details', { class: 'excluded small' },
              h('summary', {}, `제외된 상품 ${d.excluded.length}개`),
              h('ul', {}, d.excluded.map((x) => h('li', {}, h('strong', {}, x.name), ` — ${x.reason}`)))) : null,
            answerFeedback(d.log_id),
          ]);
        },
      });
      bubble.dataset.state = 'done';
    } catch (err) {
      if (!alive) return true;
      answer.classList.remove('streaming');
      if (err.name === 'AbortError') {
        bubble.dataset.state = 'stopped';
        status.textContent = '답변을 중지했습니다.';
      } else {
        bubble.dataset.state = 'error';
        status.textContent = chunks ? '답변이 중간에 끊겼습니다. 받은 부분까지 표시했습니다.' : '답변을 받지 못했습니다.';
        extra.append(ctx.errorBox(err));
      }
    } finally {
      untrack();
      streaming = null;
      sendBtn.disabled = false;
      stopBtn.hidden = true;
    }
    return true;
  }

  function answerFeedback(logId) {
    const box = h('div', { class: 'answer-feedback' }, h('span', { class: 'muted small' }, '이 답변이 도움이 되었나요?'));
    const send = async (rating, btn) => {
      for (const b of box.querySelectorAll('button')) b.disabled = true;
      try {
        await apiJson('chat/feedback', { method: 'POST', json: { user_id: userId, target: 'answer', target_id: logId, rating } });
        btn.setAttribute('aria-pressed', 'true');
        box.append(h('span', { class: 'muted small' }, ' 고맙습니다. 반영했습니다.'));
      } catch (err) {
        for (const b of box.querySelectorAll('button')) b.disabled = false;
        box.append(ctx.errorBox(err));
      }
    };
    box.append(
      h('button', { type: 'button', class: 'btn small ghost', onclick: (e) => send('like', e.currentTarget) }, '👍'),
      h('button', { type: 'button', class: 'btn small ghost', onclick: (e) => send('dislike', e.currentTarget) }, '👎'));
    return box;
  }

  stopBtn.addEventListener('click', () => streaming?.abort());
  loadRecommendations();

  return () => {
    alive = false;
    for (const c of aborts) c.abort();
  };
}
