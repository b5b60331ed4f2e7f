// Runs first, as a classic script: whatever goes wrong later (a module that fails to load, an
// old browser without ES modules, an uncaught error), the page says so instead of going blank.
(function () {
  'use strict';
  function show(message) {
    var banner = document.getElementById('banner');
    var text = document.getElementById('banner-text');
    if (banner && text) {
      text.textContent = message;
      banner.hidden = false;
    }
    var status = document.getElementById('boot-status');
    if (status) status.textContent = message;
  }
  window.finrayShowFatal = show;
  window.addEventListener('error', function (e) {
    // resource load errors (a missing script) arrive here too, without a message
    if (window.finrayReady) return; // after start-up the app's own handler reports errors
    var what = e && e.message ? ' (' + e.message + ')' : '';
    show('화면을 불러오지 못했습니다' + what + '. 새로고침해 주세요. 문제가 계속되면 관리자에게 알려 주세요.');
  }, true);
  window.setTimeout(function () {
    if (!window.finrayReady) {
      show('화면을 불러오지 못했습니다. 최신 브라우저(Chrome, Edge, Safari, Firefox)에서 새로고침해 주세요.');
    }
  }, 15000);
})();
