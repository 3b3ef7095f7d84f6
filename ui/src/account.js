// The Account page: who is signed in, and their own console sign-in
// secrets, through the same API curl would use: PUT
// /v1/users/{name}/password, POST and DELETE /v1/users/{name}/totp and
// POST .../totp/confirm (a user changes only their own). A user who has a password shows it again
// for a new one or TOTP off (the server asks: someone else may be at this
// browser). app.js hands it api() (which carries the CSRF token) and
// onSignedOut(why): a new password ends all the user's console sessions
// on the server, this one too, so the page goes back to sign-in saying so.
import { h } from './vendor/preact.mjs';
import { useEffect, useState } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';

const html = htm.bind(h);

// The server's rule (PASSWORD_MIN_CHARS, core/auth/password.h). The server
// checks it and its refusal is what the page shows; console.mjs checks
// that the number here is the one in the server's sentence.
const PASSWORD_MIN_CHARS = 12;
const PASSWORD_RULE = `For signing in with your name. At least ${PASSWORD_MIN_CHARS} ` +
  'characters: a few words make a good one. Setting it ends all your console ' +
  'sessions, this one too, and you sign in again with the new one.';

const ROLES = {
  viewer: 'you see devices, tunnels, approval requests and the audit trail.',
  operator: 'you see everything a viewer does, and also set devices\' allowed ' +
    'ports, end tunnels and inspect HTTP tunnels.',
  admin: 'you may do everything, approving requests and managing users too.',
};

// The server's message ("a password needs at least ...") as a sentence.
function sentence(message) {
  const s = String(message || '').trim();
  if (!s) return 'Something went wrong: try again.';
  return s[0].toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');
}

const userPath = (me, what) => `/v1/users/${encodeURIComponent(me.name)}/${what}`;

// The field for the password one has now, where the server asks for it.
function CurrentPassword({ value, onInput }) {
  return html`<label>Current password
    <input type="password" name="current-password" autocomplete="current-password"
           value=${value} onInput=${onInput} required/></label>`;
}

function NewPassword({ me, api, onSignedOut }) {
  const [form, setForm] = useState({ now: '', one: '', two: '' });
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  async function save(e) {
    e.preventDefault();
    if (form.one !== form.two)
      return setErr('The two passwords differ: type the same one twice.');
    setErr('');
    setBusy(true);  // about a second: the server hashes it (Argon2id)
    try {
      const body = { password: form.one };
      if (me.password) body.current_password = form.now;
      await api('PUT', userPath(me, 'password'), body);
    } catch (x) {
      setBusy(false);
      return setErr(sentence(x.message));
    }
    onSignedOut('Your password is changed. That ended your console sessions, ' +
                'this one too: sign in again with the new password.');
  }
  return html`<article aria-labelledby="password-title">
    <h3 id="password-title">Password</h3>
    <p id="password-rule">${PASSWORD_RULE}</p>
    <form onSubmit=${save}>
      <input type="text" name="username" autocomplete="username" value=${me.name}
             hidden readonly/>
      ${me.password && html`<${CurrentPassword} value=${form.now} onInput=${set('now')}/>`}
      <label>New password
        <input type="password" name="new-password" autocomplete="new-password"
               aria-describedby="password-rule" value=${form.one}
               onInput=${set('one')} required/></label>
      <label>The same password again
        <input type="password" name="new-password-again" autocomplete="new-password"
               value=${form.two} onInput=${set('two')} required/></label>
      <button type="submit" name="set-password" aria-busy=${busy}
              disabled=${busy}>Set the password</button>
    </form>
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </article>`;
}

// The otpauth:// URI as a QR code: uqr (loaded the first time one is
// needed) makes the matrix, drawn here as one SVG path of dark squares.
async function qrOf(text) {
  const { encode } = await import('./vendor/uqr.mjs');
  const { data, size } = encode(text, { ecc: 'M', border: 2 });
  let d = '';
  data.forEach((row, y) => row.forEach((dark, x) => {
    if (dark) d += `M${x} ${y}h1v1h-1z`;
  }));
  return { d, size };
}

// Two steps: the new secret shown (it waits on the server), then a code
// from the app turns it on, so a secret not added to an app locks no one
// out.
function Totp({ me, api }) {
  const [on, setOn] = useState(!!me.totp);
  const [made, setMade] = useState(null);  // the new secret, shown this once
  const [qr, setQr] = useState(null);
  const [now, setNow] = useState('');  // the current password: on, off
  const [code, setCode] = useState('');
  const [err, setErr] = useState('');
  const [busy, setBusy] = useState(false);
  // me may be older than a change made on this page before: ask again.
  useEffect(() => {
    api('GET', '/ui/session').then((s) => setOn(!!s.totp), () => {});
  }, []);
  async function act(e, work) {
    if (e) e.preventDefault();
    setErr('');
    setBusy(true);
    try { await work(); } catch (x) { setErr(sentence(x.message)); }
    setBusy(false);
  }
  const start = () => act(null, async () => {
    const t = await api('POST', userPath(me, 'totp'));
    setMade(t);
    setCode('');
    setQr(null);
    qrOf(t.otpauth_uri).then(setQr, () => setQr(null));  // the text is enough
  });
  const confirm = (e) => act(e, async () => {
    const body = { code: code.trim() };
    if (me.password) body.current_password = now;
    await api('POST', userPath(me, 'totp/confirm'), body);
    setNow('');
    setMade(null);
    setOn(true);
  });
  const off = (e) => act(e, async () => {
    await api('DELETE', userPath(me, 'totp'),
              me.password ? { current_password: now } : undefined);
    setNow('');
    setOn(false);
  });
  return html`<article aria-labelledby="totp-title" data-totp=${on ? 'on' : 'off'}>
    <h3 id="totp-title">Code from an authenticator app (TOTP)</h3>
    ${on ? html`<p>On: signing in with your password also asks for a code
        from your app.</p>`
      : html`<p>Off: your password alone signs you in. Turned on, signing in
        with it also asks for a six-digit code from an authenticator app.</p>`}
    ${made && html`<section class="totp-new" aria-label="Your new TOTP secret">
      <p><strong>Add this to your app now: it is shown only this once.</strong>${' '}
        Scan the code, or copy the URI (or type the secret) into the app, then
        type the code it shows. Until then your password alone signs you in.</p>
      ${qr && html`<svg class="qr" viewBox=${`0 0 ${qr.size} ${qr.size}`} role="img"
          aria-label="QR code of the otpauth:// URI" shape-rendering="crispEdges">
        <rect width=${qr.size} height=${qr.size} fill="#fff"/>
        <path d=${qr.d} fill="#000"/></svg>`}
      <p>URI: <code class="otpauth">${made.otpauth_uri}</code></p>
      <p>Secret: <code class="secret">${made.secret}</code></p>
      <form onSubmit=${confirm}>
        <label>Code from the app
          <input name="totp-code" inputmode="numeric" autocomplete="one-time-code"
                 pattern="[0-9]{6}" maxlength="6" value=${code}
                 onInput=${(e) => setCode(e.target.value)} required/></label>
        ${me.password && html`<${CurrentPassword} value=${now}
            onInput=${(e) => setNow(e.target.value)}/>`}
        <button type="submit" name="totp-confirm" aria-busy=${busy}
                disabled=${busy}>Turn TOTP on</button>
        <button type="button" class="secondary" name="totp-cancel"
                onClick=${() => setMade(null)}>Not now</button>
      </form>
    </section>`}
    ${on ? html`<form onSubmit=${off}>
        ${me.password && html`<${CurrentPassword} value=${now}
            onInput=${(e) => setNow(e.target.value)}/>`}
        <button type="submit" name="totp-off" class="secondary" aria-busy=${busy}
                disabled=${busy}>Turn TOTP off</button></form>`
      : !made && html`<button name="totp-on" aria-busy=${busy} disabled=${busy}
            onClick=${start}>Turn TOTP on</button>`}
    ${err && html`<p class="error" role="alert">${err}</p>`}
  </article>`;
}

export function Account({ me, api, onSignedOut }) {
  return html`<section>
    <h2>Account</h2>
    <p>Signed in as <strong data-who>${me.name}</strong>, role <strong data-role>${
      me.role}</strong>: ${ROLES[me.role] || ''}</p>
    <p class="muted">The password and the code are for signing in with your
      name; an API key signs in without them.</p>
    <${NewPassword} me=${me} api=${api} onSignedOut=${onSignedOut}/>
    <${Totp} me=${me} api=${api}/>
  </section>`;
}
