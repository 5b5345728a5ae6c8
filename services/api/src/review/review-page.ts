// The review page (/review): plain HTML, CSS and a script, served by the API itself — no build
// chain. It reads everything through /api/v1 (with the API key when one is set, kept in the
// browser's localStorage), shows alerts and review-band faces newest first with the probe face
// beside the reference it matched, records confirm / reject verdicts, and follows the live alert
// stream. Works on a phone (one column under 640 px).

export const reviewHtml = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>facewatch review</title><link rel="stylesheet" href="/review/app.css"><link rel="icon" href="data:,"></head>
<body>
<header>
  <h1>facewatch review</h1>
  <span id="live" class="live off" title="live updates">offline</span>
  <button id="key" type="button" hidden>API key</button>
</header>
<form id="filters">
  <label>Show <select name="decision"><option value="">alerts and review band</option><option value="match">alerts</option><option value="review">review band</option></select></label>
  <label>Status <select name="review_status"><option value="">any</option><option value="pending" selected>to review</option><option value="confirmed">confirmed</option><option value="rejected">rejected</option></select></label>
  <label>Person <select name="person_id"><option value="">anyone</option></select></label>
</form>
<p id="message" role="status"></p>
<main>
  <section id="alerts-section"><h2>Alerts <span class="count" id="alerts-count"></span></h2><ol id="alerts" class="cards"></ol></section>
  <section id="review-section"><h2>Review band <span class="count" id="review-count"></span></h2>
    <p class="hint">A watch-list person is plausible but not sure enough for an alert.</p><ol id="review-band" class="cards"></ol></section>
</main>
<template id="card">
  <li class="card">
    <div class="faces">
      <figure class="probe"><img alt="face in the processed image"><figcaption>seen</figcaption></figure>
      <figure class="reference"><img alt="reference face"><figcaption>reference</figcaption></figure>
    </div>
    <div class="facts">
      <h3 class="name"></h3>
      <p class="decision"></p>
      <p class="detail"></p>
      <p class="when"></p>
      <p class="links"><a class="source" href="#">source image</a> · <a class="context" href="#">face in context</a></p>
      <p class="verdict"></p>
      <div class="actions"><input class="note" placeholder="note (optional)" maxlength="2000"><button class="confirm" type="button">Confirm</button><button class="reject" type="button">Reject</button></div>
    </div>
  </li>
</template>
<script type="module" src="/review/app.js"></script>
</body></html>
`;

export const reviewCss = `
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.4 system-ui, sans-serif; color: #1d232a; background: #f3f4f6; }
header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; background: #1d232a; color: #fff; }
header h1 { font-size: 18px; margin: 0; flex: 1; }
.live { font-size: 13px; padding: 2px 8px; border-radius: 10px; background: #6b7280; }
.live.on { background: #15803d; }
#filters { display: flex; flex-wrap: wrap; gap: 12px; padding: 10px 16px; background: #fff; border-bottom: 1px solid #d1d5db; }
#filters select { font: inherit; padding: 4px; }
#message { margin: 8px 16px; min-height: 1.4em; color: #b91c1c; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; padding: 0 16px 24px; }
h2 { font-size: 16px; margin: 8px 0; } .count { color: #6b7280; font-weight: normal; }
.hint { margin: 0 0 8px; color: #6b7280; font-size: 13px; }
.cards { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 10px; }
.card { display: flex; gap: 12px; padding: 10px; background: #fff; border-radius: 8px; border-left: 5px solid #dc2626; box-shadow: 0 1px 2px #0002; }
.card[data-decision="review"] { border-left-color: #d97706; }
.card[data-status="confirmed"] { opacity: .75; border-left-color: #15803d; }
.card[data-status="rejected"] { opacity: .6; border-left-color: #6b7280; }
.card.new { animation: flash 2s; } @keyframes flash { from { background: #fef3c7; } to { background: #fff; } }
.faces { display: flex; gap: 6px; flex: none; }
figure { margin: 0; text-align: center; font-size: 12px; color: #6b7280; }
figure img { display: block; width: 112px; height: 112px; object-fit: cover; border-radius: 4px; background: #e5e7eb; }
.facts { flex: 1; min-width: 0; } .facts p { margin: 2px 0; } .facts h3 { margin: 0; font-size: 17px; }
.detail { color: #4b5563; font-size: 13px; overflow-wrap: anywhere; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.actions input { flex: 1; min-width: 120px; font: inherit; padding: 6px; }
button { font: inherit; padding: 8px 14px; border: 0; border-radius: 6px; cursor: pointer; }
button.confirm { background: #15803d; color: #fff; } button.reject { background: #b91c1c; color: #fff; }
button:disabled { opacity: .5; cursor: default; }
#key { background: #374151; color: #fff; }
@media (max-width: 640px) {
  main { grid-template-columns: 1fr; padding: 0 8px 16px; }
  .card { flex-direction: column; } .faces { justify-content: center; }
  figure img { width: 42vw; height: 42vw; max-width: 160px; max-height: 160px; }
  button { padding: 10px 16px; }
}
`;

export const reviewJs = `
const api = '/api/v1';
const $ = (s) => document.querySelector(s);
const state = { key: localStorage.getItem('facewatch.apiKey') || '', lastSeq: 0, shown: new Map() };

function headers(extra = {}) { return state.key ? { 'X-API-Key': state.key, ...extra } : extra; }

async function call(path, init = {}) {
  const res = await fetch(api + path, { ...init, headers: headers(init.headers) });
  if (res.status === 401) { askKey(); throw new Error('an API key is needed'); }
  if (!res.ok) { const body = await res.json().catch(() => ({})); throw new Error(body.message || 'HTTP ' + res.status); }
  return res;
}

function askKey() {
  $('#key').hidden = false;
  const key = prompt('API key of this facewatch server');
  if (key !== null) { state.key = key.trim(); localStorage.setItem('facewatch.apiKey', state.key); load(); }
}
$('#key').addEventListener('click', askKey);

function say(text) { $('#message').textContent = text || ''; }

/** Images behind the API key: fetched with the header, shown from a blob URL. */
async function showImage(img, url) {
  if (!url) { img.alt += ' (not kept)'; return; }
  try {
    const res = await call(url.slice(api.length));
    img.src = URL.createObjectURL(await res.blob());
  } catch { img.alt += ' (not available)'; }
}
async function openImage(url) {
  const tab = window.open('', '_blank');
  try { const res = await call(url.slice(api.length)); const blob = URL.createObjectURL(await res.blob()); if (tab) tab.location = blob; else location.href = blob; }
  catch (err) { if (tab) tab.close(); say(err.message); }
}

function filters() { return Object.fromEntries(new FormData($('#filters')).entries()); }
function wanted(a) {
  const f = filters();
  return (!f.decision || a.decision === f.decision) && (!f.review_status || a.review.status === f.review_status) && (!f.person_id || a.person_id === f.person_id);
}

function fill(li, a) {
  li.dataset.alertId = a.alert_id; li.dataset.decision = a.decision; li.dataset.status = a.review.status;
  li.querySelector('.name').textContent = a.name;
  // match_confidence = 1 − the share of strangers that score this high: shown as odds, which people read better
  const odds = (c) => c == null ? '' : c >= 0.999999 ? ' · under 1 in a million strangers score this high' : ' · 1 in ' + Math.round(1 / (1 - c)).toLocaleString() + ' strangers score this high';
  li.querySelector('.decision').textContent = (a.decision === 'match' ? 'alert' : 'review band') + ' · score ' + (a.score ?? '–') + odds(a.match_confidence);
  li.querySelector('.detail').textContent = (a.decision_reason || '') + (a.decision_detail ? ': ' + a.decision_detail : '');
  li.querySelector('.when').textContent = new Date(a.processed_at).toLocaleString() + ' · ' + a.identifier;
  li.querySelector('.verdict').textContent = a.review.status === 'pending' ? 'not reviewed yet' : a.review.status + (a.review.note ? ': ' + a.review.note : '') + (a.review.reviewed_at ? ' (' + new Date(a.review.reviewed_at).toLocaleString() + ')' : '');
  for (const b of li.querySelectorAll('button')) b.disabled = a.review.status !== 'pending';
}

function card(a, fresh) {
  const li = $('#card').content.firstElementChild.cloneNode(true);
  fill(li, a);
  if (fresh) li.classList.add('new');
  showImage(li.querySelector('.probe img'), a.evidence.face);
  showImage(li.querySelector('.reference img'), a.evidence.reference_face);
  li.querySelector('.source').addEventListener('click', (e) => { e.preventDefault(); openImage(a.evidence.image); });
  li.querySelector('.context').addEventListener('click', (e) => { e.preventDefault(); openImage(a.evidence.context); });
  for (const status of ['confirm', 'reject']) {
    li.querySelector('button.' + status).addEventListener('click', async () => {
      try {
        const res = await call('/alerts/' + encodeURIComponent(a.alert_id) + '/review', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: status + 'ed', note: li.querySelector('.note').value || null }) });
        const updated = await res.json();
        fill(li, updated); say('');
      } catch (err) { say(err.message); }
    });
  }
  return li;
}

function counts() {
  $('#alerts-count').textContent = '(' + $('#alerts').children.length + ')';
  $('#review-count').textContent = '(' + $('#review-band').children.length + ')';
}

function place(a, fresh) {
  if (!wanted(a)) return;
  const list = a.decision === 'match' ? $('#alerts') : $('#review-band');
  const old = state.shown.get(a.alert_id);
  const li = card(a, fresh);
  if (old) old.replaceWith(li); else if (fresh) list.prepend(li); else list.append(li);
  state.shown.set(a.alert_id, li);
  counts();
}

async function load() {
  const f = filters();
  $('#alerts-section').hidden = f.decision === 'review';
  $('#review-section').hidden = f.decision === 'match';
  $('#alerts').replaceChildren(); $('#review-band').replaceChildren(); state.shown.clear();
  const q = new URLSearchParams({ limit: '100' });
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  try {
    const page = await (await call('/alerts?' + q)).json();
    for (const a of page.items) { place(a, false); state.lastSeq = Math.max(state.lastSeq, a.seq); }
    counts();
    say(page.total_items > page.items.length ? 'showing the newest ' + page.items.length + ' of ' + page.total_items : '');
  } catch (err) { say(err.message); }
}

async function people() {
  try {
    const page = await (await call('/blacklist?limit=1000')).json();
    for (const p of page.items) { const o = document.createElement('option'); o.value = p.id; o.textContent = p.name; $('#filters [name=person_id]').append(o); }
  } catch { /* shown by load */ }
}

/** The live stream, read with fetch (EventSource cannot send the API key); resumes with Last-Event-ID. */
async function follow() {
  for (let wait = 1000; ; wait = Math.min(wait * 2, 30000)) {
    try {
      const res = await fetch(api + '/alerts/stream', { headers: headers(state.lastSeq ? { 'Last-Event-ID': String(state.lastSeq) } : {}) });
      if (res.status === 401) { askKey(); throw new Error('key'); }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      $('#live').className = 'live on'; $('#live').textContent = 'live'; wait = 1000;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\\n\\n')) >= 0) {
          const block = buffer.slice(0, end); buffer = buffer.slice(end + 2);
          const data = block.split('\\n').find((l) => l.startsWith('data:'));
          if (!data) continue;
          const a = JSON.parse(data.slice(5));
          state.lastSeq = Math.max(state.lastSeq, a.seq);
          place(a, true);
        }
      }
    } catch { /* reconnect below */ }
    $('#live').className = 'live off'; $('#live').textContent = 'offline';
    await new Promise((r) => setTimeout(r, wait));
  }
}

$('#filters').addEventListener('change', load);
people();
load().then(follow);
`;
