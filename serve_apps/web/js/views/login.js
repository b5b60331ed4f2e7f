// Sign-in: Kakao login, and (when the server has AUTH_DEV_LOGIN=true) demo users to pick.

import { ApiError, devLogin, devUsers, kakaoLoginUrl } from '../api.js';
import { clear, h, spinner } from '../dom.js';

const GENDER = { M: '남', F: '여' };

export function mount(container, ctx) {
  let alive = true;
  const devBox = h('div', { class: 'dev-login', id: 'dev-login' }, spinner('데모 사용자 목록을 불러오는 중…'));
  container.append(
    h('div', { class: 'login-card' },
      h('h1', {}, 'finray에 오신 것을 환영합니다'),
      h('p', { class: 'lead' }, '내 투자성향에 맞는 예금·적금·펀드·연금 상품을 추천받고, 상담하고, 금리·환율 전망을 확인해 보세요.'),
      ctx.notice ? h('p', { class: 'notice', role: 'status', id: 'login-notice' }, ctx.notice) : null,
      h('a', { class: 'btn kakao', href: kakaoLoginUrl(), id: 'kakao-login' },
        h('span', { class: 'kakao-mark', 'aria-hidden': 'true' }, '●'), '카카오 로그인'),
      devBox,
    ),
  );

  devUsers(30).then((users) => {
    if (!alive) return;
    clear(devBox).append(
      h('h2', {}, '개발용 로그인'),
      h('p', { class: 'muted' }, '데모 고객을 골라 바로 로그인합니다. 개발·시연용 서버에서만 보이는 목록입니다.'),
      h('ul', { class: 'dev-users' }, users.map((u) => h('li', {},
        h('button', {
          type: 'button', class: 'btn outline dev-user', dataset: { userId: u.user_id },
          onclick: (e) => signIn(u.user_id, e.currentTarget),
        },
        h('strong', {}, u.user_id),
        h('span', {}, ` ${u.age}세 · ${GENDER[u.gender] || u.gender} · ${u.risk_profile_ko}`)),
      ))),
    );
  }).catch((err) => {
    if (!alive) return;
    if (err instanceof ApiError && err.reason === 'dev_login_disabled') devBox.remove();
    else clear(devBox).append(ctx.errorBox(err));
  });

  async function signIn(userId, button) {
    for (const b of devBox.querySelectorAll('button')) b.disabled = true;
    button.classList.add('busy');
    try {
      await devLogin(userId);
      ctx.signedIn();
    } catch (err) {
      for (const b of devBox.querySelectorAll('button')) b.disabled = false;
      button.classList.remove('busy');
      devBox.prepend(ctx.errorBox(err));
    }
  }

  return () => { alive = false; };
}
