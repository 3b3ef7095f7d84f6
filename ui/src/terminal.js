// A terminal to a device, in the page: xterm.js (loaded the first time
// one opens, so the console's first load stays small) over the server's
// WebSocket, GET /v1/devices/{id}/terminal. The server runs ssh to the
// device's port; the device's sshd asks for the password in the terminal.
// Binary messages, their first byte saying what they carry (docs/api.md):
// 2 start (cols, rows, the CSRF token), 0 keystrokes or output, 1 window
// size, 3 the end and why.
import { h } from './vendor/preact.mjs';
import { useEffect, useRef, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';

const html = htm.bind(h);
const DATA = 0, SIZE = 1, START = 2, END = 3;
const encoder = new TextEncoder();

// xterm.js styles its rows with <style> elements it makes: the page's
// CSP admits those that carry the nonce the server made for this page.
function admitStyles() {
  const nonce = document.querySelector('meta[name=weft-style-nonce]').content;
  const make = document.createElement.bind(document);
  document.createElement = (tag, options) => {
    const el = make(tag, options);
    if (String(tag).toLowerCase() === 'style') el.nonce = nonce;
    return el;
  };
}

let xterm = null;
function loadXterm() {
  if (!xterm) {
    admitStyles();
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = './vendor/xterm.css';
    document.head.appendChild(link);
    xterm = Promise.all([import('./vendor/xterm.mjs'), import('./vendor/addon-fit.mjs')]);
  }
  return xterm;
}

// One message: its kind, then a window size if given, then bytes.
function message(kind, size, bytes) {
  const head = size ? 5 : 1;
  const m = new Uint8Array(head + (bytes ? bytes.length : 0));
  m[0] = kind;
  if (size) m.set([size.cols >> 8, size.cols & 255, size.rows >> 8, size.rows & 255], 1);
  if (bytes) m.set(bytes, head);
  return m;
}

// The single ports of the device's ACL, "22" first when it is one.
function reachable(reach) {
  const list = (reach || '').split(',').map((s) => s.trim()).filter((s) => /^\d+$/.test(s));
  return list.includes('22') ? ['22', ...list.filter((p) => p !== '22')] : list;
}

export function TerminalPanel({ device, csrf, api }) {
  const ports = reachable(device.acl.reach_ports);
  const [form, setForm] = useState({ port: ports[0] || '22', user: '' });
  const [state, setState] = useState({ phase: 'closed' });
  const box = useRef(null);
  const live = useRef(null); // { ws, term, fit, resize }

  function stop() {
    const l = live.current;
    if (!l) return;
    window.removeEventListener('resize', l.resize);
    if (l.ws.readyState <= WebSocket.OPEN) l.ws.close();
  }
  function dispose() {
    stop();
    if (live.current) live.current.term.dispose();
    live.current = null;
    setState({ phase: 'closed' });
  }
  useEffect(() => dispose, [device.id]); // another device, or another page

  async function open(e) {
    e.preventDefault();
    const path = `/v1/devices/${encodeURIComponent(device.id)}/terminal` +
      `?port=${encodeURIComponent(form.port)}&user=${encodeURIComponent(form.user.trim())}`;
    setState({ phase: 'checking' });
    let info;
    try {
      info = await api('GET', path); // the server's checks, said in a sentence
      await loadXterm();
    } catch (x) { return setState({ phase: 'closed', err: x.message }); }
    setState({ phase: 'open', info, path });
  }

  // Once the box is on the page: the terminal, then the connection.
  useEffect(() => {
    if (state.phase !== 'open' || live.current) return;
    xterm.then(([{ Terminal }, { FitAddon }]) => {
      const term = new Terminal({ cursorBlink: true, fontSize: 14, scrollback: 2000 });
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.open(box.current);
      fit.fit();
      const ws = new WebSocket(`wss://${location.host}${state.path}`);
      ws.binaryType = 'arraybuffer';
      let why = '';
      const send = (m) => { if (ws.readyState === WebSocket.OPEN) ws.send(m); };
      const resize = () => fit.fit();
      live.current = { ws, term, fit, resize };
      ws.onopen = () => {
        send(message(START, { cols: term.cols, rows: term.rows }, encoder.encode(csrf)));
        term.focus();
      };
      ws.onmessage = (ev) => {
        const b = new Uint8Array(ev.data);
        if (b[0] === DATA) term.write(b.subarray(1));
        else if (b[0] === END) why = new TextDecoder().decode(b.subarray(1));
      };
      ws.onclose = () => {
        window.removeEventListener('resize', resize);
        setState((s) => ({ ...s, phase: 'ended', why: why || 'the connection to the server closed' }));
      };
      term.onData((d) => send(message(DATA, null, encoder.encode(d))));
      term.onBinary((d) => send(message(DATA, null, Uint8Array.from(d, (c) => c.charCodeAt(0)))));
      term.onResize((size) => send(message(SIZE, size)));
      window.addEventListener('resize', resize);
    });
  }, [state.phase]);

  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const shown = state.phase === 'open' || state.phase === 'ended';
  return html`<section class="terminal">
    <h4>Terminal</h4>
    ${!shown && html`<form onSubmit=${open}>
      <div class="grid">
        <label>Port (its ACL must allow it)
          <input name="terminal-port" type="number" min="1" max="65535" list="terminal-ports"
                 value=${form.port} onInput=${set('port')} required/></label>
        <datalist id="terminal-ports">${ports.map((p) => html`<option value=${p}/>`)}</datalist>
        <label>User on the device
          <input name="terminal-user" autocomplete="off" value=${form.user}
                 onInput=${set('user')} required/></label>
      </div>
      <button type="submit" name="open-terminal" aria-busy=${state.phase === 'checking'}
              disabled=${state.phase === 'checking'}>Open a terminal</button>
      <p class="muted">The device's sshd asks for the password in the terminal.
        Closing it, or leaving this page, ends the session.</p>
      ${state.err && html`<p class="error" role="alert">${state.err}</p>`}
    </form>`}
    ${shown && html`<p class="muted" aria-live="polite">
      ${state.info.user}@${device.id} port ${state.info.port}
      ${state.info.via === 'relay' ? ` through tunnel ${state.info.tunnel_id}` : ` at ${state.info.via}`}
      ${state.phase === 'ended' ? html` · <strong class="ended">ended: ${state.why}</strong>` : ''}</p>
      <div class="xterm-box" ref=${box} role="region"
           aria-label=${`Terminal to ${device.id}`}></div>
      ${state.phase === 'open'
        ? html`<button class="secondary" name="close-terminal" onClick=${stop}>End the session</button>`
        : html`<button class="secondary" name="close-terminal" onClick=${dispose}>Close</button>`}`}
  </section>`;
}
