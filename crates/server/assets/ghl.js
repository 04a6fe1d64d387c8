// The GHL page: asks GHL's window for the user's encrypted context, hands it to
// Switchboard, and opens the inbox signed in.
(() => {
  'use strict';
  const status = document.getElementById('status');
  const say = (text) => { status.textContent = text; };

  window.addEventListener('message', async (event) => {
    const data = event.data;
    if (!data || data.message !== 'REQUEST_USER_DATA_RESPONSE' || !data.payload) return;
    const r = await fetch('/ghl/sso', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ payload: data.payload }),
    });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) {
      say(answer.detail || 'Switchboard could not sign you in.');
      return;
    }
    location.replace(answer.next || '/inbox');
  });

  if (window.parent === window) {
    say('Open this page from inside GHL (a custom menu link).');
    return;
  }
  window.parent.postMessage({ message: 'REQUEST_USER_DATA' }, '*');
})();
