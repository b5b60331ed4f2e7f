// The HTTP API as the page uses it: Bearer tokens, refresh with rotation, errors in Korean.
//
// Tokens (the JSON of /auth/dev-login, /auth/kakao/callback and /auth/refresh) are kept so every
// tab of the app shares one session: in localStorage for quick synchronous reads, and in
// IndexedDB as the copy refreshes trust. Refresh tokens rotate and each may be used once — a
// second use revokes the whole session — so refreshing is serialized: within a tab by one shared
// promise, across tabs by a Web Lock, and inside the lock the newest stored pair is read again
// (another tab may have rotated it already). That read goes to IndexedDB because localStorage
// reaches other tabs asynchronously (Chromium caches it per renderer): a tab that takes the lock
// right after another released it can still read the old, already used refresh token there,
// while an IndexedDB transaction begun after the other tab's write committed sees that write.
// A 401 whose reason is `token_expired` is refreshed and the request retried once; a token about
// to expire is refreshed before use.

import { StreamProtocolError, sseEvents } from './sse.js';

const STORAGE_KEY = 'finray.session.v1';
const DB_NAME = 'finray';
const DB_STORE = 'session';
const LOCK_NAME = 'finray-token-refresh';
const EARLY_REFRESH_MS = 20_000; // refresh an access token this close to expiry before using it

/** Base URL of the API, relative to where the app is mounted (<base href> set by the server). */
export const API_BASE = new URL('../api/v1/', document.baseURI);

export function apiUrl(path, params) {
  const url = new URL(path.replace(/^\//, ''), API_BASE);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === '') continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(v));
  }
  return url;
}

// --- session storage ---------------------------------------------------------------------------

export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
    return s && s.access_token && s.refresh_token ? s : null;
  } catch {
    return null;
  }
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

/** Read (value undefined) or replace (null: delete) the session in IndexedDB; resolves on commit. */
async function dbSession(value) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(DB_STORE, value === undefined ? 'readonly' : 'readwrite');
      const store = tx.objectStore(DB_STORE);
      let result = null;
      if (value === undefined) {
        const get = store.get(STORAGE_KEY);
        get.onsuccess = () => { result = get.result || null; };
      } else if (value === null) {
        store.delete(STORAGE_KEY);
      } else {
        store.put(value, STORAGE_KEY);
      }
      tx.oncomplete = () => resolve(result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** The most recently saved session of all tabs (IndexedDB when it has a newer one). */
async function newestSession() {
  const local = loadSession();
  let stored = null;
  try {
    stored = await dbSession();
  } catch {
    return local; // no IndexedDB (e.g. some private modes): localStorage alone
  }
  if (stored && (!local || (stored.saved_at || 0) > (local.saved_at || 0))) {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
    return stored;
  }
  return local;
}

/** Store a token response (TokenResponse of the auth routes) with absolute expiry times. */
export async function saveTokens(tokens) {
  const now = Date.now();
  const session = {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    user_id: tokens.user_id,
    access_expires_at: now + tokens.expires_in * 1000,
    refresh_expires_at: now + tokens.refresh_expires_in * 1000,
    saved_at: now,
  };
  localStorage.setItem(STORAGE_KEY, JSON.stringify(session));
  try {
    await dbSession(session);
  } catch {
    // localStorage alone then
  }
  return session;
}

export async function clearSession() {
  localStorage.removeItem(STORAGE_KEY);
  try {
    await dbSession(null);
  } catch {
    // nothing stored there
  }
}

// --- errors ------------------------------------------------------------------------------------

export class ApiError extends Error {
  /**
   * status: HTTP status (0: no response), kind: the body's `error`, reason: its `reason`,
   * detail: the server's own words (English), retryAfter: seconds (429), requestId.
   */
  constructor({ status = 0, kind = '', reason = '', detail = '', retryAfter = null, requestId = '', message }) {
    super(message || koreanMessage({ status, kind, reason, detail, retryAfter }));
    this.status = status;
    this.kind = kind;
    this.reason = reason;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.requestId = requestId;
  }
}

const REASON_MESSAGES = {
  token_expired: '로그인 시간이 만료되었습니다. 다시 로그인해 주세요.',
  refresh_token_reused: '보안을 위해 로그인이 종료되었습니다(이미 사용된 로그인 정보가 다시 쓰였습니다). 다시 로그인해 주세요.',
  token_revoked: '로그인이 해제되었습니다(로그아웃했거나 보안상 세션이 종료됨). 다시 로그인해 주세요.',
  missing_token: '로그인이 필요합니다.',
  admin_required: '관리자만 볼 수 있는 화면입니다. 관리자 계정으로 로그인해 주세요.',
  not_own_user_id: '본인의 정보만 조회할 수 있습니다.',
  dev_login_disabled: '개발용 로그인이 꺼져 있습니다. 카카오 로그인을 이용해 주세요.',
  account_not_linked: '이 카카오 계정은 finray 고객 정보와 연결되어 있지 않습니다. 고객센터에 계정 연결을 요청해 주세요.',
  invalid_state: '로그인 요청이 만료되었거나 다른 브라우저에서 시작되었습니다. 처음부터 다시 로그인해 주세요.',
  access_denied: '카카오 로그인 동의가 취소되었습니다.',
  kakao_not_configured: '카카오 로그인을 지금은 이용할 수 없습니다. 잠시 후 다시 시도하거나 고객센터에 문의해 주세요.',
  unknown_user: '해당 데모 사용자가 없습니다. 목록에서 다시 골라 주세요.',
};

/** A clear Korean sentence for an error response; the server's detail is shown separately. */
export function koreanMessage({ status, kind = '', reason = '', retryAfter = null }) {
  if (reason && REASON_MESSAGES[reason]) return REASON_MESSAGES[reason];
  if (kind === 'stream_lost') return '응답을 받는 중 연결이 끊겼습니다. 받은 내용까지만 표시했습니다. 다시 시도해 주세요.';
  if (kind === 'stream_error') return '답변을 만드는 중 서버에서 오류가 났습니다. 잠시 후 다시 시도해 주세요.';
  switch (status) {
    case 0: return '서버에 연결할 수 없습니다. 네트워크 연결을 확인한 뒤 다시 시도해 주세요.';
    case 400: return kind === 'login_failed' ? '로그인에 실패했습니다. 다시 시도해 주세요.' : '요청 형식이 올바르지 않습니다.';
    case 401: return '로그인이 필요합니다. 다시 로그인해 주세요.';
    case 403: return '이 작업을 할 권한이 없습니다.';
    case 404: return '요청한 정보를 찾을 수 없습니다.';
    case 409: return '서비스 데이터가 준비되는 중입니다. 잠시 후 다시 시도해 주세요.';
    case 413: return '보낸 내용이 너무 큽니다. 줄여서 다시 보내 주세요.';
    case 422: return '입력한 값을 확인해 주세요.';
    case 429: {
      const wait = Number(retryAfter);
      return Number.isFinite(wait) && wait > 0
        ? `요청이 너무 많습니다. ${Math.ceil(wait)}초 후에 다시 시도해 주세요.`
        : '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.';
    }
    case 502: return '외부 서비스(카카오 등)와 연결하지 못했습니다. 잠시 후 다시 시도해 주세요.';
    case 503: return '서비스가 아직 준비되지 않았거나 잠시 바쁩니다. 잠시 후 다시 시도해 주세요.';
    default:
      return status >= 500
        ? '서버에 오류가 발생했습니다. 잠시 후 다시 시도해 주세요. 계속되면 요청 ID를 알려 주세요.'
        : `요청을 처리하지 못했습니다 (HTTP ${status}).`;
  }
}

/** ApiError from a non-2xx response (JSON error body if there is one, else its status). */
export async function errorFrom(response) {
  let body = {};
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : {};
    if (typeof body !== 'object' || body === null) body = { detail: String(body) };
  } catch {
    body = {};
  }
  return new ApiError({
    status: response.status,
    kind: body.error || '',
    reason: body.reason || '',
    detail: typeof body.detail === 'string' ? body.detail : body.detail ? JSON.stringify(body.detail) : '',
    retryAfter: response.headers.get('Retry-After'),
    requestId: body.request_id || response.headers.get('X-Request-ID') || '',
  });
}

function networkError(err) {
  if (err && err.name === 'AbortError') return err;
  return new ApiError({ status: 0, kind: 'network', detail: err ? String(err.message || err) : '' });
}

// --- signed-out notifications -----------------------------------------------------------------

/** Fired on window when the session is gone (refresh failed, revoked): detail = ApiError. */
export const SIGNED_OUT_EVENT = 'finray:signed-out';

function signedOut(error) {
  clearSession();  // also in IndexedDB (asynchronously)
  window.dispatchEvent(new CustomEvent(SIGNED_OUT_EVENT, { detail: error }));
}

// --- refresh -----------------------------------------------------------------------------------

let refreshing = null;

/**
 * A fresh session; `staleAccess` is the access token that was refused or about to expire (if the
 * stored one differs, another tab refreshed meanwhile and its pair is used as is).
 */
export function refreshSession(staleAccess) {
  if (!refreshing) {
    const work = () => rotate(staleAccess);
    const run = navigator.locks ? navigator.locks.request(LOCK_NAME, work) : work();
    refreshing = run.finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function rotate(staleAccess) {
  const current = await newestSession();
  if (!current) throw new ApiError({ status: 401, reason: 'missing_token' });
  if (current.access_token !== staleAccess && current.access_expires_at - Date.now() > EARLY_REFRESH_MS) {
    return current;
  }
  let response;
  try {
    response = await fetch(apiUrl('auth/refresh'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
      cache: 'no-store',
    });
  } catch (err) {
    throw networkError(err);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) signedOut(error);
    throw error;
  }
  return saveTokens(await response.json());
}

// --- requests ----------------------------------------------------------------------------------

/**
 * fetch() an API path; resolves to the Response when it is 2xx, else rejects with ApiError.
 * options: method, params (query), json (body), signal, auth (default true), accept.
 */
export async function apiFetch(path, { method = 'GET', params, json, signal, auth = true, accept = 'application/json' } = {}) {
  let session = auth ? loadSession() : null;
  if (session && session.access_expires_at - Date.now() < EARLY_REFRESH_MS) {
    session = await refreshSession(session.access_token);
  }
  const send = async (s) => {
    const headers = { Accept: accept };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    if (s) headers.Authorization = `Bearer ${s.access_token}`;
    try {
      return await fetch(apiUrl(path, params), {
        method, headers, signal, cache: 'no-store',
        body: json === undefined ? undefined : JSON.stringify(json),
      });
    } catch (err) {
      throw networkError(err);
    }
  };
  let response = await send(session);
  if (response.status === 401 && session) {
    const error = await errorFrom(response);
    if (error.reason !== 'token_expired') {
      signedOut(error);
      throw error;
    }
    session = await refreshSession(session.access_token);
    response = await send(session); // once: a second 401 is final
    if (response.status === 401) {
      const again = await errorFrom(response);
      signedOut(again);
      throw again;
    }
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

export async function apiJson(path, options) {
  const response = await apiFetch(path, options);
  return response.status === 204 ? null : response.json();
}

// --- streams -------------------------------------------------------------------------------------

/**
 * Read an SSE response to its end, calling handlers[eventName](data) for each event.
 * Rejects with ApiError: kind `stream_error` for an `error` event from the server, kind
 * `stream_lost` when the connection breaks or ends before the `terminal` event. What the handlers
 * already rendered stays on the page. An AbortError (the user stopped it) passes through.
 */
export async function consumeEvents(response, handlers, { terminal = 'done' } = {}) {
  const events = sseEvents(response)[Symbol.asyncIterator]();
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      let step;
      try {
        step = await events.next();
      } catch (err) {
        if (err && err.name === 'AbortError') throw err;
        const detail = err instanceof StreamProtocolError ? err.message : String(err?.message || err);
        throw new ApiError({ status: 0, kind: 'stream_lost', detail });
      }
      if (step.done) break;
      const { event, data } = step.value;
      received += 1;
      if (event === 'error') {
        throw new ApiError({ status: 500, kind: 'stream_error', detail: data?.detail || '', requestId: data?.request_id || '' });
      }
      if (handlers[event]) handlers[event](data);
      if (event === terminal) finished = true;
    }
  } finally {
    if (!finished) events.return?.().catch(() => {}); // stop reading what is left
  }
  if (!finished) {
    throw new ApiError({ status: 0, kind: 'stream_lost', detail: `the stream ended after ${received} events without "${terminal}"` });
  }
}

// --- auth calls --------------------------------------------------------------------------------

export const me = () => apiJson('auth/me');
export const devUsers = (limit = 20) => apiJson('auth/dev-users', { params: { limit }, auth: false });

export async function devLogin(userId) {
  return saveTokens(await apiJson('auth/dev-login', { method: 'POST', json: { user_id: userId }, auth: false }));
}

/** Finish a Kakao login: the query Kakao sent back (code, state or error) → our tokens. */
export async function completeKakaoLogin(search) {
  const params = Object.fromEntries(new URLSearchParams(search));
  return saveTokens(await apiJson('auth/kakao/callback', { params, auth: false }));
}

export const kakaoLoginUrl = () => apiUrl('auth/kakao/login').toString();

/** Revoke the session on the server (best effort) and forget it here. */
export async function logout() {
  const session = loadSession();
  await clearSession();
  if (!session) return;
  try {
    await fetch(apiUrl('auth/logout'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${session.access_token}` },
      body: JSON.stringify({ refresh_token: session.refresh_token }),
      cache: 'no-store',
    });
  } catch {
    // offline: the tokens are gone from this browser; the server session expires on its own
  }
}
