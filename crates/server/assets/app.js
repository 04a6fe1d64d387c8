// The dashboard's little script: local times, a session kept alive while a page is open,
// and live updates from /ws. Every page works without it; it only saves reloads.
(() => {
  'use strict';
  const body = document.body;

  function localTimes(root) {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const d = new Date(t.dateTime);
      if (!isNaN(d)) {
        t.textContent = d.toLocaleString([], {
          day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit',
        });
      }
    }
  }

  function cookie(name) {
    const pair = document.cookie.split('; ').find((c) => c.startsWith(name + '='));
    return pair ? decodeURIComponent(pair.slice(name.length + 1)) : '';
  }

  // The access token lives 15 minutes: renew it every 10 while the page is open, and
  // give the page's forms the new CSRF token.
  async function renew() {
    const r = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'X-CSRF-Token': cookie('sb_csrf') },
    });
    if (r.ok) {
      const csrf = cookie('sb_csrf');
      for (const input of document.querySelectorAll('input[name=csrf]')) input.value = csrf;
      body.dataset.csrf = csrf;
    }
    return r.ok;
  }

  // Server-rendered HTML of one list row or message (escaped on the server).
  async function fragment(url) {
    const r = await fetch(url, { credentials: 'same-origin' });
    if (!r.ok) return null;
    const t = document.createElement('template');
    t.innerHTML = (await r.text()).trim();
    return t.content.firstElementChild;
  }

  function put(el, container, atTop) {
    const old = document.getElementById(el.id);
    if (old && !atTop) {
      old.replaceWith(el);
    } else if (container) {
      if (old) old.remove();
      if (atTop) container.prepend(el); else container.append(el);
    }
    localTimes(el);
  }

  async function onEvent(e) {
    const page = body.dataset.page;
    if (e.conversation_id && page === 'inbox') {
      if (e.message_id && body.dataset.conversation === e.conversation_id) {
        const bubble = await fragment('/messages/' + e.message_id + '/bubble');
        if (bubble) put(bubble, document.getElementById('bubbles'), false);
      }
      const row = await fragment('/inbox/' + e.conversation_id + '/row');
      if (row) put(row, document.getElementById('rows'), e.kind === 'message.created');
    }
    if (e.kind && e.kind.startsWith('handoff.') && page === 'handoffs'
        && !document.activeElement.closest('form')) {
      location.reload();
      return;
    }
    if (e.kind && e.kind.startsWith('handoff.')) {
      const r = await fetch('/handoffs/count', { credentials: 'same-origin' });
      if (r.ok) {
        const n = (await r.text()).trim();
        const count = document.getElementById('handoff-count');
        if (count) {
          count.textContent = n;
          count.setAttribute('aria-label', n + ' pending');
        }
      }
    }
  }

  let lastId = Number(body.dataset.lastEvent || 0);
  let delay = 1000;
  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    const ws = new WebSocket(scheme + location.host + '/ws?since=' + lastId);
    ws.onopen = () => { delay = 1000; body.dataset.live = 'on'; };
    ws.onmessage = (m) => {
      const e = JSON.parse(m.data);
      if (e.kind === 'reset') { location.reload(); return; }
      if (typeof e.id === 'number') lastId = Math.max(lastId, e.id);
      onEvent(e).catch(() => {});
    };
    ws.onclose = () => {
      body.dataset.live = 'off';
      // Reconnect after renewing the session (it may be why the socket closed).
      setTimeout(() => { renew().catch(() => {}).finally(connect); }, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }

  localTimes(document);
  if (body.dataset.csrf !== undefined) {
    setInterval(() => { renew().catch(() => {}); }, 10 * 60 * 1000);
    connect();
  }
})();
