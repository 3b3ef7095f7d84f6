// The Weft console: a page of preact components (htm for their markup)
// over the server's /v1 API, as the signed-in user. The server decides
// what each role may do; the page only hides what would be refused.
import { h, render } from './vendor/preact.mjs';
import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';
import { TerminalPanel } from './terminal.js';
import { Account } from './account.js';

const html = htm.bind(h);
let csrf = '';

// One request to the API: JSON in and out, the CSRF token on changes.
async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const doc = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error((doc.error && doc.error.message) || res.statusText);
  return doc;
}

// The server's event stream (GET /v1/events): one EventSource while
// signed in. Pages listen for the kinds they show (tunnel, device,
// approval, audit) and patch or fetch what changed. Each (re)connection
// first says "ready": what was missed meanwhile is reloaded then, so a
// page's data, kept across page switches, stays the truth.
const live = { source: null, listeners: new Set(), cache: {}, setState: () => {} };

function liveStart(onSignedOut) {
  const es = new EventSource('/v1/events');
  live.source = es;
  const dispatch = (kind, data) => live.listeners.forEach((l) => l(kind, data));
  es.addEventListener('ready', () => {
    live.cache = {};  // anything may have changed while we were away
    live.setState('live');
    dispatch('ready', {});
  });
  for (const kind of ['tunnel', 'device', 'approval', 'audit', 'traffic', 'request'])
    es.addEventListener(kind, (e) => dispatch(kind, JSON.parse(e.data)));
  es.onerror = () => {
    live.setState('reconnecting');
    // A refusal (the session ended) closes it for good: say so.
    if (es.readyState === EventSource.CLOSED)
      api('GET', '/ui/session').then(() => {
        if (live.source === es) setTimeout(() => liveStart(onSignedOut), 2000);
      }, onSignedOut);
  };
}

function liveStop() {
  if (live.source) live.source.close();
  live.source = null;
  live.cache = {};
}

// Calls on(kind, data) for each event while the component is shown.
function useLive(on) {
  useEffect(() => {
    live.listeners.add(on);
    return () => live.listeners.delete(on);
  });
}

// A page's list, kept across page switches while the stream is live (its
// events keep it true), loaded when there is none.
function useCachedList(name, load) {
  const [list, setList] = useState(live.cache[name] || null);
  const set = (v) => {
    const next = typeof v === 'function' ? v(live.cache[name] || []) : v;
    live.cache[name] = next;
    setList(next);
  };
  const reload = () => load().then(set);
  useEffect(() => { if (!live.cache[name]) reload(); }, []);
  return [list, set, reload];
}

const PRESETS = [
  ['SSH', [22]], ['RDP', [3389]], ['WinRM', [5985, 5986]], ['VNC', [5900]],
  ['HTTP', [80, 443]],
];

// "22,80,8000-8100" to a list of single ports and ranges kept as text.
function parsePorts(text) {
  return (text || '').split(',').map((s) => s.trim()).filter(Boolean);
}

// Two ways in: a name and password (and a code from an authenticator app
// when the user turned TOTP on), or an API key. The password is checked
// slowly on purpose (Argon2id): the button says so while it waits.
function SignIn({ onIn }) {
  const [form, setForm] = useState({ name: '', password: '', totp: '', key: '' });
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  async function send(e, body) {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await api('POST', '/ui/session', body);
      csrf = s.csrf;
      onIn(s);
    } catch (x) { setErr(x.message); setBusy(false); }
  }
  function withPassword(e) {
    const body = { name: form.name.trim(), password: form.password };
    if (form.totp.trim()) body.totp = form.totp.trim();
    send(e, body);
  }
  return html`<article>
    <h2>Sign in to Weft</h2>
    <form onSubmit=${withPassword}>
      <label>User name
        <input name="name" autocomplete="username" value=${form.name}
               onInput=${set('name')} required/></label>
      <label>Password (weft user passwd NAME sets one)
        <input type="password" name="password" autocomplete="current-password"
               value=${form.password} onInput=${set('password')} required/></label>
      <label>Code from your authenticator app, if you turned one on
        <input name="totp" inputmode="numeric" autocomplete="one-time-code"
               pattern="[0-9]{6}" maxlength="6" value=${form.totp}
               onInput=${set('totp')}/></label>
      <button type="submit" name="sign-in-password" aria-busy=${busy}
              disabled=${busy}>Sign in</button>
    </form>
    <form onSubmit=${(e) => send(e, { api_key: form.key.trim() })}>
      <label>Or an API key (weft user add NAME --role ROLE prints one)
        <input type="password" name="api_key" autocomplete="off"
               value=${form.key} onInput=${set('key')} required/>
      </label>
      <button type="submit" name="sign-in-key" class="secondary"
              disabled=${busy}>Sign in with the key</button>
    </form>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </article>`;
}

function AllowedPorts({ device, canEdit, onChange, onSaving }) {
  // While a change is on its way, the switches show it (a re-render from
  // an event meanwhile does not flip them back).
  const [sending, setSending] = useState(null);
  const current = sending || parsePorts(device.acl.reach_ports);
  const [custom, setCustom] = useState('');
  const [err, setErr] = useState('');
  const has = (ports) => ports.every((p) => current.includes(String(p)));
  async function save(list) {
    onSaving();
    setSending(list);
    try {
      const d = await api('PATCH', `/v1/devices/${encodeURIComponent(device.id)}`,
                          { reach_ports: list.join(',') });
      setErr('');
      onChange(d);
    } catch (x) { setErr(x.message); }
    setSending(null);
  }
  function toggle(ports, on) {
    const rest = current.filter((p) => !ports.map(String).includes(p));
    save(on ? rest.concat(ports.map(String)) : rest);
  }
  return html`<section class="ports">
    <h4>Allowed ports</h4>
    ${PRESETS.map(([name, ports]) => html`<label>
      <input type="checkbox" role="switch" name=${'port-' + name}
             checked=${has(ports)} disabled=${!canEdit}
             onChange=${(e) => toggle(ports, e.target.checked)}/>
      ${name} (${ports.join(', ')})</label>`)}
    <p class="muted">In force: ${device.acl.reach_ports || 'none'}</p>
    ${canEdit && html`<form role="group" onSubmit=${(e) => { e.preventDefault();
        if (custom) save(current.concat(parsePorts(custom))); setCustom(''); }}>
      <input name="custom" placeholder="Custom port or range, e.g. 8080"
             value=${custom} onInput=${(e) => setCustom(e.target.value)}/>
      <button type="submit">Add</button></form>`}
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </section>`;
}

function Devices({ me }) {
  const [open, setOpen] = useState(null);
  const [err, setErr] = useState('');
  const [list, setList, reload] = useCachedList('devices',
    () => api('GET', '/v1/devices').then((d) => d.devices, (x) => { setErr(x.message); return null; }));
  // The open device's latest request wins: a fetch an event started is
  // dropped if a change was sent after it (no stale switch flickers back).
  const seq = useRef(0);
  async function show(id) {
    const mine = ++seq.current;
    try {
      const d = await api('GET', `/v1/devices/${encodeURIComponent(id)}`);
      if (mine === seq.current) setOpen(d);
    } catch (x) { setErr(x.message); }
  }
  useLive((kind, ev) => {
    if (kind === 'ready') { reload(); if (open) show(open.id); return; }
    if (kind !== 'device') return;
    if (ev.what === 'device-enrolled' || !(list || []).some((d) => d.id === ev.id)) reload();
    else setList((l) => l.map((d) => (d.id === ev.id ? { ...d, online: ev.online } : d)));
    if (open && open.id === ev.id) show(ev.id);  // its ports and tunnels
  });
  if (err) return html`<p class="error">${err}</p>`;
  if (!list) return html`<p aria-busy="true">Loading devices…</p>`;
  const canEdit = me.role === 'operator' || me.role === 'admin';
  return html`<section>
    <h2>Devices</h2>
    <table><thead><tr><th>Device</th><th>State</th><th>Class</th><th>Key</th></tr></thead>
    <tbody>${list.map((d) => html`<tr data-row=${d.id}>
      <td><a href="#" data-device=${d.id}
             onClick=${(e) => { e.preventDefault(); show(d.id); }}>${d.id}</a></td>
      <td class="state">${d.online ? 'online' : 'offline'}</td>
      <td>${d.class}</td><td class="muted">${d.key_fingerprint}</td></tr>`)}
    </tbody></table>
    ${list.length === 0 && html`<p class="muted">No device has enrolled yet.</p>`}
    ${open && html`<article id="device">
      <header><strong>${open.id}</strong> · ${open.online ? 'online' : 'offline'} · class ${open.class}
        ${open.revoked ? ' · revoked' : ''}</header>
      <${AllowedPorts} device=${open} canEdit=${canEdit} onChange=${setOpen}
                       onSaving=${() => { seq.current++; }}/>
      <p>Tunnels: ${open.tunnels.length ? open.tunnels.join(', ') : 'none'}</p>
      ${canEdit && html`<${TerminalPanel} device=${open} csrf=${csrf} api=${api}/>`}
    </article>`}
  </section>`;
}

const bytes = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB`
  : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n || 0} B`);

// The HTTP inspector of one tunnel: its switch, the requests it captured
// (a "request" event adds one), one's headers and bodies (as text, never
// as markup) and Replay, which shows the new answer.
const headerText = (list) => (list || []).map(([k, v]) => `${k}: ${v}`).join('\n');
const bodyText = (d, name) => (d[name] !== undefined ? d[name]
  : d[name + '_base64'] !== undefined ? `(binary, base64) ${d[name + '_base64']}` : '')
  + (d[name + '_cut'] ? `\n… cut: ${bytes(d[name + '_size'])} in all` : '');

function Inspector({ tunnel, onClose }) {
  const path = `/v1/tunnels/${encodeURIComponent(tunnel.id)}`;
  const [list, setList] = useState(null);
  const [open, setOpen] = useState(null);
  const [replayed, setReplayed] = useState(null);
  const [err, setErr] = useState('');
  async function load() {
    if (!tunnel.inspect) return setList([]);
    try { setList((await api('GET', `${path}/requests`)).requests); setErr(''); }
    catch (x) { setErr(x.message); }
  }
  useEffect(() => { load(); }, [tunnel.id, tunnel.inspect]);
  useLive((kind, ev) => {
    if (kind === 'ready' || (kind === 'request' && ev.tunnel_id === tunnel.id)) load();
  });
  async function turn(on) {
    try { await api('PUT', `${path}/inspect`, { on }); setErr(''); setOpen(null); }
    catch (x) { setErr(x.message); }
  }
  async function show(seq) {
    setReplayed(null);
    try { setOpen(await api('GET', `${path}/requests/${seq}`)); }
    catch (x) { setErr(x.message); }
  }
  async function replay(seq) {
    setReplayed({ busy: true });
    try { setReplayed(await api('POST', `${path}/requests/${seq}/replay`)); setErr(''); }
    catch (x) { setReplayed(null); setErr(`The replay failed: ${x.message}`); }
  }
  return html`<article id="inspector" aria-label=${'Inspector of ' + tunnel.id}>
    <header><strong>Inspector · ${tunnel.id}</strong>
      <button class="secondary close" onClick=${onClose}>Close</button></header>
    <label><input type="checkbox" role="switch" name="inspect" checked=${!!tunnel.inspect}
      onChange=${(e) => turn(e.target.checked)}/>
      Capture this tunnel's requests (kept in memory only: the last 50, bodies up to 64 KiB)</label>
    ${err && html`<p class="error" role="alert">${err}</p>`}
    ${tunnel.inspect && list && html`<table class="requests"><thead><tr><th>#</th><th>Method</th>
      <th>Path</th><th>Status</th><th>Time</th><th>Sizes (in / out)</th></tr></thead>
      <tbody>${list.slice().reverse().map((r) => html`<tr data-request=${r.seq}>
        <td>${r.seq}${r.replay_of ? html` <small>(replay of ${r.replay_of})</small>` : ''}</td>
        <td>${r.method}</td>
        <td><a href="#" onClick=${(e) => { e.preventDefault(); show(r.seq); }}>${r.target}</a></td>
        <td>${r.status || 'no answer'}</td><td>${r.duration_ms} ms</td>
        <td>${bytes(r.request_size)} / ${bytes(r.response_size)}</td></tr>`)}</tbody></table>
      ${list.length === 0 && html`<p class="muted">No request yet: requests to ${tunnel.public_url} appear here as they come.</p>`}`}
    ${open && html`<section class="request" aria-label=${'Request ' + open.seq}>
      <h4>${open.method} ${open.target} → ${open.status || 'no answer'}</h4>
      <button onClick=${() => replay(open.seq)} disabled=${replayed && replayed.busy}>Replay</button>
      <h5>Request headers</h5><pre>${headerText(open.request_headers)}</pre>
      <h5>Request body</h5><pre>${bodyText(open, 'request_body')}</pre>
      <h5>Response headers</h5><pre>${headerText(open.response_headers)}</pre>
      <h5>Response body</h5><pre>${bodyText(open, 'response_body')}</pre>
      ${replayed && !replayed.busy && html`<section class="replayed">
        <h5>Replayed: ${replayed.status}</h5>
        <pre>${headerText(replayed.headers)}</pre><pre class="replay-body">${bodyText(replayed, 'body')}</pre></section>`}
    </section>`}
  </article>`;
}

// A tunnel's throughput over the last minute: its byte count sampled each
// second (the figures come with the event stream's traffic events), drawn
// as a line. Kept across page switches.
const HISTORY = 60;
const history = new Map(); // tunnel id -> [[ms, bytes], ...]
function sample(list) {
  const now = Date.now();
  for (const t of list) {
    const h = history.get(t.id) || [];
    h.push([now, t.traffic.bytes_in + t.traffic.bytes_out]);
    if (h.length > HISTORY) h.shift();
    history.set(t.id, h);
  }
  for (const id of history.keys())
    if (!list.some((t) => t.id === id)) history.delete(id);
}

function Throughput({ id }) {
  const h = history.get(id) || [];
  if (h.length < 2) return html`<span class="muted">…</span>`;
  const rates = h.slice(1).map(([ms, b], i) =>
    Math.max(0, (b - h[i][1]) / Math.max(0.001, (ms - h[i][0]) / 1000)));
  const top = Math.max(...rates, 1), w = 80, ht = 20;
  const points = rates.map((r, i) =>
    `${((i / Math.max(1, rates.length - 1)) * w).toFixed(1)},${(ht - (r / top) * (ht - 2) - 1).toFixed(1)}`);
  const now = rates[rates.length - 1];
  return html`<svg class="throughput" width=${w} height=${ht} viewBox=${`0 0 ${w} ${ht}`}
      role="img" aria-label=${`${bytes(now)}/s now, at most ${bytes(top)}/s in the last minute`}>
    <polyline points=${points.join(' ')} fill="none" stroke="currentColor"/></svg>`;
}

// What is left of a tunnel's idle timeout (its public side's last traffic
// is in the traffic events too).
function idleLeft(t) {
  const last = t.traffic.last_activity ?? t.last_activity;
  const left = t.idle_timeout - (Date.now() / 1000 - last);
  if (!t.idle_timeout || !last) return '';
  if (left <= 0) return 'ending';
  return left >= 3600 ? `${Math.floor(left / 3600)} h ${Math.floor((left % 3600) / 60)} min`
    : left >= 60 ? `${Math.floor(left / 60)} min` : `${Math.floor(left)} s`;
}

function Tunnels({ me }) {
  const [err, setErr] = useState('');
  const [inspecting, setInspecting] = useState(null);
  const [list, setList, reload] = useCachedList('tunnels',
    () => api('GET', '/v1/tunnels').then((d) => d.tunnels, (x) => { setErr(x.message); return null; }));
  useLive(async (kind, ev) => {
    if (kind === 'ready') return reload();
    if (kind === 'traffic') {  // once a second, the tunnels whose figures moved
      const by = new Map(ev.tunnels.map((f) => [f.id, f]));
      return setList((l) => l.map((t) => (by.has(t.id)
        ? { ...t, traffic: { ...t.traffic, ...by.get(t.id) } } : t)));
    }
    if (kind !== 'tunnel') return;
    if (ev.what === 'ended')
      return setList((l) => l.filter((t) => t.id !== ev.id));
    let t;
    try { t = await api('GET', `/v1/tunnels/${encodeURIComponent(ev.id)}`); }
    catch (x) { return; }  // ended meanwhile: its own event follows
    setList((l) => (l.some((o) => o.id === t.id) ? l.map((o) => (o.id === t.id ? t : o))
                                                 : [t].concat(l)));
  });
  // Each second: a throughput sample, and the idle time left drawn anew
  // (a timer on the page; nothing is asked of the server).
  const [, setTick] = useState(0);
  const current = useRef(list);
  current.current = list;
  useEffect(() => {
    const timer = setInterval(() => {
      if (current.current) sample(current.current);
      setTick((n) => n + 1);
    }, 1000);
    return () => clearInterval(timer);
  }, []);
  async function end(id) {
    try { await api('DELETE', `/v1/tunnels/${encodeURIComponent(id)}`); }
    catch (x) { setErr(x.message); }
  }
  if (!list) return html`<p aria-busy="true">Loading tunnels…</p>`;
  const canEnd = me.role === 'operator' || me.role === 'admin';
  return html`<section><h2>Tunnels</h2>
    ${err && html`<p class="error">${err}</p>`}
    <table><thead><tr><th>Tunnel</th><th>Device</th><th>Transport</th>
      <th>Public URL</th><th>State</th><th>Traffic (in / out)</th>
      <th>Last minute</th><th>Idle left</th><th></th></tr></thead>
    <tbody>${list.map((t) => html`<tr data-tunnel=${t.id}>
      <td>${t.id}</td><td>${t.device_id}</td><td>${t.transport}</td>
      <td>${t.public_url}</td><td>${t.connected ? 'connected' : t.state}</td>
      <td class="traffic">${bytes(t.traffic.bytes_in)} / ${bytes(t.traffic.bytes_out)}</td>
      <td><${Throughput} id=${t.id}/></td><td class="idle">${idleLeft(t)}</td>
      <td class="actions">${canEnd && /^https?:/.test(t.public_url) && html`<button
          class="secondary" aria-pressed=${inspecting === t.id}
          onClick=${() => setInspecting(inspecting === t.id ? null : t.id)}>Inspect</button>`}
        ${canEnd && html`<button class="secondary"
          onClick=${() => end(t.id)}>End</button>`}</td></tr>`)}</tbody></table>
    ${list.length === 0 && html`<p class="muted">No tunnel is open.</p>`}
    ${inspecting && list.some((t) => t.id === inspecting) && html`<${Inspector}
      tunnel=${list.find((t) => t.id === inspecting)} onClose=${() => setInspecting(null)}/>`}
  </section>`;
}

function Approvals({ me }) {
  const [err, setErr] = useState('');
  const [list, , reload] = useCachedList('approvals',
    () => api('GET', '/v1/approvals').then((d) => d.approvals, (x) => { setErr(x.message); return null; }));
  // A short list (at most 256): any change reloads it.
  useLive((kind) => { if (kind === 'ready' || kind === 'approval') reload(); });
  async function decide(id, what) {
    try { await api('POST', `/v1/approvals/${encodeURIComponent(id)}/${what}`); }
    catch (x) { setErr(x.message); }
  }
  if (!list) return html`<p aria-busy="true">Loading requests…</p>`;
  return html`<section><h2>Approvals</h2>
    ${err && html`<p class="error">${err}</p>`}
    <table><thead><tr><th>Request</th><th>Device</th><th>Asks</th><th>Code</th>
      <th>From</th><th>State</th><th></th></tr></thead>
    <tbody>${list.map((a) => html`<tr data-approval=${a.id}>
      <td>${a.id}</td><td>${a.device_id}</td>
      <td>${a.kind === 'enrollment' ? 'its key bound' :
            `${(a.request || {}).local || ''} → ${(a.request || {}).remote || 'any'}`}</td>
      <td><strong>${a.code}</strong></td><td>${a.from}</td><td>${a.state}</td>
      <td class="actions">${me.role === 'admin' && a.state === 'pending' && html`
        <button onClick=${() => decide(a.id, 'approve')}>Approve</button>
        <button class="secondary" onClick=${() => decide(a.id, 'deny')}>Deny</button>`}</td>
    </tr>`)}</tbody></table>
    ${list.length === 0 && html`<p class="muted">Nothing waits for a decision.</p>`}
  </section>`;
}

function Audit() {
  const [filters, setFilters] = useState({ device: '', actor: '', event: '' });
  const [list, setList] = useState(null);
  const [err, setErr] = useState('');
  async function load(f) {
    const q = Object.entries(f).filter(([, v]) => v)
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
    try { setList((await api('GET', `/v1/audit${q ? '?' + q : ''}`)).events); setErr(''); }
    catch (x) { setErr(x.message); }
  }
  const [shown, setShown] = useState(filters);  // what the list was loaded with
  useEffect(() => { load(filters); }, []);
  useLive((kind, e) => {
    if (kind === 'ready') return load(shown);
    if (kind !== 'audit') return;
    const pass = (!shown.device || e.device_id === shown.device) &&
      (!shown.actor || e.actor === shown.actor) && (!shown.event || e.event === shown.event);
    if (pass) setList((l) => l && [e].concat(l).slice(0, 200));
  });
  const field = (k) => html`<input name=${k} placeholder=${k} value=${filters[k]}
      onInput=${(e) => setFilters({ ...filters, [k]: e.target.value })}/>`;
  return html`<section><h2>Audit</h2>
    <form role="group" onSubmit=${(e) => { e.preventDefault(); setShown(filters); load(filters); }}>
      ${field('device')}${field('actor')}${field('event')}
      <button type="submit">Filter</button></form>
    ${err && html`<p class="error">${err}</p>`}
    ${list && html`<table><thead><tr><th>When</th><th>Event</th><th>Device</th>
      <th>Actor</th><th>Detail</th></tr></thead><tbody>${list.map((e) => html`<tr>
      <td>${new Date(e.at * 1000).toISOString().replace('T', ' ').slice(0, 19)}</td>
      <td>${e.event}</td><td>${e.device_id || ''}</td><td>${e.actor || ''}</td>
      <td>${e.detail || ''}</td></tr>`)}</tbody></table>`}
  </section>`;
}

const PAGES = { devices: Devices, tunnels: Tunnels, approvals: Approvals, audit: Audit,
                account: Account };

const ENDED = 'Your session ended: signed out elsewhere, idle too long, or your ' +
  'password or key changed. Sign in again.';

function App() {
  const [me, setMe] = useState(undefined);
  const [page, setPage] = useState('devices');
  const [state, setState] = useState('connecting');
  const [notice, setNotice] = useState('');  // why the session ended, shown at sign-in
  live.setState = setState;
  useEffect(() => {
    api('GET', '/ui/session').then((s) => { csrf = s.csrf; setMe(s); }, () => setMe(null));
  }, []);
  useEffect(() => {
    if (!me) return undefined;
    liveStart(() => { csrf = ''; setNotice(ENDED); setMe(null); });
    return () => { liveStop(); setState('connecting'); };
  }, [me && me.name]);
  async function signOut() {
    liveStop();
    try { await api('DELETE', '/ui/session'); } finally { csrf = ''; setMe(null); }
  }
  if (me === undefined) return html`<p aria-busy="true">Loading…</p>`;
  if (me === null)
    return html`${notice && html`<p class="notice" role="status">${notice}</p>`}
      <${SignIn} onIn=${(s) => { setNotice(''); setPage('devices'); setMe(s); }}/>`;
  const Page = PAGES[page];
  return html`<nav><ul><li><strong>Weft</strong></li></ul><ul>
    ${Object.keys(PAGES).map((p) => html`<li><a href="#" aria-current=${p === page}
        data-page=${p} onClick=${(e) => { e.preventDefault(); setPage(p); }}>
        ${p[0].toUpperCase() + p.slice(1)}</a></li>`)}
    <li class="live" data-live=${state} role="status">${state === 'live' ? 'live'
        : state === 'connecting' ? 'connecting…' : 'reconnecting…'}</li>
    <li class="who">${me.name} (${me.role})</li>
    <li><button class="secondary outline" onClick=${signOut}>Sign out</button></li>
  </ul></nav>
  <${Page} key=${page} me=${me} api=${api}
           onSignedOut=${(why) => { csrf = ''; setNotice(why); setMe(null); }}/>`;
}

render(html`<${App}/>`, document.getElementById('app'));
