// The shell: who is signed in, which view is shown (#/advisor, #/riskxpert, #/admin, #/login),
// the error banner. Each view module exports mount(container, ctx) → cleanup function.

import { ApiError, SIGNED_OUT_EVENT, completeKakaoLogin, loadSession, logout, me } from './api.js';
import { clear, h } from './dom.js';
import * as adminView from './views/admin.js';
import * as advisorView from './views/advisor.js';
import * as loginView from './views/login.js';
import * as riskView from './views/riskxpert.js';

const VIEWS = { advisor: advisorView, riskxpert: riskView, admin: adminView };
const TITLES = { advisor: '상품 추천 · 상담', riskxpert: 'RiskXpert 경제 전망', admin: '관리자', login: '로그인' };

const view = document.getElementById('view');
const state = { me: null, cleanup: null, notice: null, routing: 0 };

// --- banner ---------------------------------------------------------------------------------------

export function showBanner(message, { tone = 'error' } = {}) {
  const banner = document.getElementById('banner');
  document.getElementById('banner-text').textContent = message;
  banner.dataset.tone = tone;
  banner.hidden = false;
}

export function hideBanner() {
  document.getElementById('banner').hidden = true;
}

/**
 * A box describing an error: the Korean message, then the server's own words (often English) and
 * the request id, labelled as what to quote to the help desk.
 */
export function errorBox(err, { retry } = {}) {
  const e = err instanceof ApiError ? err : new ApiError({ status: -1, message: '예기치 못한 오류가 발생했습니다. 새로고침한 뒤 다시 시도해 주세요.', detail: String(err?.message || err) });
  return h('div', { class: 'error-box', role: 'alert', dataset: { status: String(e.status), reason: e.reason || e.kind || '' } },
    h('p', { class: 'error-message' }, e.message),
    e.detail ? h('p', { class: 'error-detail' }, `고객센터 문의용 정보: ${e.detail}`) : null,
    e.requestId ? h('p', { class: 'error-detail' }, `요청 ID: ${e.requestId}`) : null,
    retry ? h('button', { type: 'button', class: 'btn small', onclick: retry }, '다시 시도') : null,
  );
}

// --- session --------------------------------------------------------------------------------------

function renderAccount() {
  const signedIn = Boolean(state.me);
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('account').hidden = !signedIn;
  const isAdmin = signedIn && state.me.roles.includes('admin');
  document.getElementById('nav-admin').hidden = !isAdmin;
  document.getElementById('who').textContent = signedIn ? `${state.me.user_id}${isAdmin ? ' · 관리자' : ''}` : '';
}

async function currentUser() {
  if (state.me) return state.me;
  if (!loadSession()) return null;
  state.me = await me(); // an expired access token is refreshed inside
  return state.me;
}

// --- routing --------------------------------------------------------------------------------------

function routeName() {
  const name = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return name in VIEWS || name === 'login' ? name : 'advisor';
}

async function route() {
  const ticket = ++state.routing; // a newer navigation wins over a slower older one
  if (state.cleanup) {
    try { state.cleanup(); } catch { /* a view's cleanup must not block navigation */ }
    state.cleanup = null;
  }
  let name = routeName();
  let user = null;
  try {
    user = await currentUser();
  } catch (err) {
    if (ticket !== state.routing) return;
    if (!(err instanceof ApiError && err.status === 401)) {
      clear(view).append(errorBox(err, { retry: route }));
      return;
    }
    state.notice = err.message;
  }
  if (ticket !== state.routing) return;
  renderAccount();
  if (!user) name = 'login';
  else if (name === 'login') name = 'advisor';
  document.title = `finray · ${TITLES[name]}`;
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.route === name);
    if (link.dataset.route === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  clear(view);
  const container = h('section', { class: `page page-${name}`, dataset: { view: name } });
  view.append(container);
  const ctx = { me: user, showBanner, hideBanner, errorBox, signedIn: onSignedIn };
  if (name === 'login') {
    const notice = state.notice;
    state.notice = null;
    state.cleanup = loginView.mount(container, { ...ctx, notice });
  } else {
    state.cleanup = VIEWS[name].mount(container, ctx);
  }
}

function onSignedIn() {
  state.me = null;
  hideBanner();
  if (routeName() === 'login' || !location.hash) location.hash = '#/advisor';
  else route();
}

async function finishKakaoLogin() {
  const search = location.search;
  // drop the one-time code from the address bar and history before anything else
  history.replaceState(null, '', new URL('#/advisor', document.baseURI).toString());
  try {
    await completeKakaoLogin(search);
  } catch (err) {
    state.notice = err.message + (err.detail ? ` (${err.detail})` : '');
    history.replaceState(null, '', new URL('#/login', document.baseURI).toString());
  }
}

async function start() {
  window.finrayReady = true;
  window.addEventListener('error', (e) => {
    showBanner(`예기치 못한 오류가 발생했습니다: ${e.message || '알 수 없는 오류'}. 새로고침해 주세요.`);
  });
  window.addEventListener('unhandledrejection', (e) => {
    const err = e.reason;
    if (err && err.name === 'AbortError') return;
    showBanner(err instanceof ApiError ? err.message : `예기치 못한 오류가 발생했습니다: ${err?.message || err}`);
  });
  window.addEventListener(SIGNED_OUT_EVENT, (e) => {
    state.me = null;
    state.notice = e.detail?.message || '다시 로그인해 주세요.';
    if (routeName() === 'login') route();
    else location.hash = '#/login';
  });
  window.addEventListener('hashchange', () => { hideBanner(); route(); });
  document.getElementById('banner-close').addEventListener('click', hideBanner);
  document.getElementById('logout').addEventListener('click', async () => {
    await logout();
    state.me = null;
    state.notice = '로그아웃했습니다.';
    if (routeName() === 'login') route();
    else location.hash = '#/login';
  });
  if (/\/kakao\/callback$/.test(location.pathname)) await finishKakaoLogin();
  await route();
}

start().catch((err) => {
  const show = window.finrayShowFatal || showBanner;
  show(`화면을 시작하지 못했습니다: ${err?.message || err}. 새로고침해 주세요.`);
});
