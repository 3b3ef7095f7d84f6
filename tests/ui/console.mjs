// The web console in Debian's Chromium, driven by playwright-core, as an
// operator, an administrator and a viewer would use it. Env: BASE
// (https://127.0.0.1:PORT), OPERATOR_KEY, VIEWER_KEY, ADMIN_KEY, DEVICE
// (an enrolled device's id), PASSWORD (the operator otto's, and
// TOTP_USER's), TOTP_USER and TOTP_SECRET (a
// user with TOTP on; codes come from oathtool, not from weft; the Account
// page's QR code is read back by zbarimg), SSH_DEVICE, SSHD_PORT and
// SSH_PASSWORD (a device whose tunnel carries its sshd, where user weft-op
// logs in with that password), SHOTS (where screenshots go). Prints
// "ok: ..." per check and exits 1 on the first failure.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from '../../ui/node_modules/playwright-core/index.mjs';

// WEFT, CONN and ECHO: for devices started from outside the page.
const { BASE, OPERATOR_KEY, VIEWER_KEY, ADMIN_KEY, DEVICE, PASSWORD, TOTP_USER,
        TOTP_SECRET, WEFT, CONN, ECHO, SITE_LOG, SSH_DEVICE, SSHD_PORT,
        SSH_PASSWORD, SHOTS } = process.env;
const agents = [];
function device(...args) {
  const p = spawn(WEFT, ['tunnel', ...args, CONN, `tcp://127.0.0.1:${ECHO}`],
                  { stdio: 'ignore' });
  agents.push(p);
  return p;
}
let failed = 0;
const ok = (what) => console.log(`ok: ${what}`);
function check(cond, what, detail = '') {
  if (cond) ok(what);
  else { failed++; console.error(`FAIL: ${what} ${detail}`); }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const errors = [];
  // Script errors only: a 401 the page expects (not signed in yet, a wrong
  // key) is logged by the browser as a failed load, and is no error here.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
      errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));

  const first = await page.goto(`${BASE}/ui/`);
  const csp = first.headers()['content-security-policy'] || '';
  check(csp.includes("script-src 'self'") && !csp.includes('unsafe-inline'),
        'the page comes with a strict Content-Security-Policy', csp);

  // The page's alert, once it says text (a password takes seconds).
  const alerted = (text) => page.waitForFunction((t) => {
    const a = document.querySelector('[role=alert]');
    return a && a.textContent.includes(t);
  }, text, { timeout: 30000 }).then(() => true, () => false);
  const signInWith = async (name, password, totp = '') => {
    await page.fill('input[name=name]', name);
    await page.fill('input[name=password]', password);
    await page.fill('input[name=totp]', totp);
    await page.click('button[name=sign-in-password]');
  };
  const signedInAs = (name) => page.waitForFunction((n) => {
    const w = document.querySelector('nav .who');
    return w && w.textContent.startsWith(n + ' ');
  }, name, { timeout: 30000 }).then(() => true, () => false);
  const signOut = async () => {
    await page.click('text=Sign out');
    await page.waitForSelector('input[name=password]');
  };

  // A wrong key is refused on the page.
  await page.fill('input[name=api_key]', 'weft_0000000000000000.nope');
  await page.click('button[name=sign-in-key]');
  check(await alerted("not a user's API key"), 'a wrong key is refused, saying so');

  // A wrong password is refused, saying what to do and not what was wrong.
  await signInWith('otto', 'not the password at all');
  check(await alerted('check them and try again'),
        'a wrong password is refused, saying what to do');

  // The operator signs in with a password, and out.
  await signInWith('otto', PASSWORD);
  check(await signedInAs('otto'), 'signed in with a name and password');
  await signOut();
  ok('and signed out');

  // A user with TOTP on signs in with a code from oathtool; the same code
  // a second time is refused.
  const code = execFileSync('oathtool', ['--totp', '-b', TOTP_SECRET]).toString().trim();
  await signInWith(TOTP_USER, PASSWORD, code);
  check(await signedInAs(TOTP_USER), 'signed in with a password and a TOTP code');
  await signOut();
  await signInWith(TOTP_USER, PASSWORD, code);
  check(await alerted('check them and try again'), 'the same code is not taken twice');

  // The operator signs in with a key.
  await page.fill('input[name=api_key]', OPERATOR_KEY);
  await page.click('button[name=sign-in-key]');
  await page.waitForSelector(`a[data-device="${DEVICE}"]`, { timeout: 10000 });
  ok('signed in, the devices page lists the enrolled device');
  const cookie = (await context.cookies()).find((c) => c.name === 'weft_console');
  check(cookie && cookie.httpOnly && cookie.secure && cookie.sameSite === 'Strict',
        'the session cookie is HttpOnly, Secure, SameSite=Strict', JSON.stringify(cookie));

  // Its allowed ports: RDP switched on, then off again, through the API.
  await page.click(`a[data-device="${DEVICE}"]`);
  const rdp = page.locator('input[name=port-RDP]');
  await rdp.waitFor();
  check(!(await rdp.isChecked()), 'RDP starts switched off');
  await rdp.check();
  await page.waitForFunction(() => document.querySelector('#device .muted')
    .textContent.includes('3389'));
  const api = await context.request.get(`${BASE}/v1/devices/${DEVICE}`);
  check((await api.json()).acl.reach_ports.includes('3389'),
        'switching RDP on changes the device reach_ports at once');
  await rdp.uncheck();
  await page.waitForFunction(() => !document.querySelector('#device .muted')
    .textContent.includes('3389'));
  ok('and switching it off takes 3389 away again');

  // A terminal to the SSH device: its port allowed from the page, then
  // the device's sshd asks for the password in the terminal, a command
  // runs, and ending the session ends ssh on the server.
  await page.click(`a[data-device="${SSH_DEVICE}"]`);
  await page.waitForSelector(`#device header:has-text("${SSH_DEVICE}")`);
  await page.fill('input[name=terminal-port]', '3389');
  await page.fill('input[name=terminal-user]', 'weft-op');
  await page.click('button[name=open-terminal]');
  check(await alerted('port 3389 of this device is not open to operators'),
        'a terminal to a port the ACL does not open is refused, saying why');
  await page.fill('#device input[name=custom]', SSHD_PORT);
  await page.click('#device form[role=group] button');
  await page.waitForFunction((p) => document.querySelector('#device .muted')
    .textContent.includes(p), SSHD_PORT);
  await page.fill('input[name=terminal-port]', SSHD_PORT);
  await page.click('button[name=open-terminal]');
  const screen = page.locator('#device .xterm-rows');
  // A line of the terminal's screen, as shown (xterm.js draws rows as text).
  const line = (text) => page.waitForFunction((t) => {
    const rows = document.querySelector('#device .xterm-rows');
    return rows && rows.innerText.split('\n').some((l) => l.trim() === t);
  }, text, { timeout: 15000 }).then(() => true, () => false);
  await screen.waitFor({ timeout: 10000 });
  await page.waitForFunction(() => /password:/.test(
    document.querySelector('#device .xterm-rows').innerText), null, { timeout: 15000 });
  ok('a terminal opens on the device page, and its sshd asks for the password');
  await page.keyboard.type(SSH_PASSWORD + '\n');
  await line('$');
  await page.keyboard.type('echo hello-from-weft\n');
  check(await line('hello-from-weft'), 'logged in, echo hello-from-weft shows its line',
        await screen.innerText());
  if (SHOTS) {
    await page.locator('#device').screenshot({ path: `${SHOTS}/terminal-1280.png` });
    await page.setViewportSize({ width: 375, height: 800 }); // it fits itself again
    await page.waitForTimeout(300);
    await page.locator('#device').screenshot({ path: `${SHOTS}/terminal-375.png` });
    await page.setViewportSize({ width: 1280, height: 720 });
  }
  await page.click('button[name=close-terminal]');
  await page.waitForSelector('#device .ended', { timeout: 10000 });
  let closed = '';
  for (let i = 0; i < 50 && !closed.includes('the browser closed the terminal'); i++) {
    closed = await (await context.request.get(`${BASE}/v1/audit?device=${SSH_DEVICE}`)).text();
    if (!closed.includes('the browser closed the terminal')) await page.waitForTimeout(100);
  }
  check(closed.includes('"event":"terminal-opened"') &&
        closed.includes('the browser closed the terminal'),
        'ending it in the page ends ssh, and both are audited', closed.slice(0, 300));
  await page.click('button[name=close-terminal]');

  // Live: what happens outside shows on the open page without a reload.
  await page.waitForSelector('nav [data-live=live]', { timeout: 10000 });
  ok('the page follows the server\'s events (live)');
  await page.click('a[data-page=tunnels]');
  await page.waitForSelector('h2:text-is("Tunnels")');
  const loads = [];
  page.on('framenavigated', () => loads.push('navigated'));
  device('--device-id', 'kiosk-2');
  const row = page.locator('tr[data-tunnel]:has-text("kiosk-2")');
  await row.waitFor({ timeout: 15000 });
  ok('a tunnel a device opens appears on the open Tunnels page');
  const tid = await row.getAttribute('data-tunnel');
  const gone = await context.request.delete(`${BASE}/v1/tunnels/${tid}`, {
    headers: { Authorization: `Bearer ${OPERATOR_KEY}` } });
  check(gone.status() === 204, 'ended from outside (curl\'s way)', String(gone.status()));
  await row.waitFor({ state: 'detached', timeout: 10000 });
  ok('and disappears from the page when it ends');
  await page.click('a[data-page=approvals]');
  await page.waitForSelector('h2:text-is("Approvals")');
  device('--await-approval', '--device-id', 'asker-3');
  const asking = page.locator('tr[data-approval]:has-text("asker-3")');
  await asking.waitFor({ timeout: 15000 });
  ok('a device\'s request for approval appears on the open Approvals page');
  check(await asking.locator('button:text-is("Approve")').count() === 0,
        'an operator gets no Approve (administrators decide)');
  check(loads.length === 0, 'all without reloading the page', loads.join());

  // The inspector of the HTTP device's tunnel: on; three curl requests
  // appear without a reload; one replayed reaches the backend twice.
  await page.click('a[data-page=tunnels]');
  const web = page.locator('tr[data-tunnel]:has-text("web-5")');
  await web.waitFor({ timeout: 10000 });
  const url = (await web.locator('td').nth(3).textContent()).trim();
  await web.locator('button:text-is("Inspect")').click();
  await page.locator('#inspector input[name=inspect]').check();
  await page.waitForSelector('#inspector :text("No request yet")', { timeout: 10000 });
  ok('the inspector is turned on from the Tunnels page');
  for (const n of [1, 2, 3])
    execFileSync('curl', ['-fsS', '-o', '/dev/null', `${url}page.txt?n=${n}`]);
  await page.waitForFunction(() => document.querySelectorAll('#inspector tr[data-request]')
    .length === 3, null, { timeout: 10000 });
  ok('three curl requests appear in it without a reload');
  await page.locator('#inspector tr[data-request] a:has-text("n=2")').click();
  await page.locator('#inspector button:text-is("Replay")').click();
  await page.waitForSelector('#inspector .replayed :text("Replayed: 200")', { timeout: 10000 });
  check((await page.textContent('#inspector .replay-body')).includes('hello'),
        'Replay shows the new answer');
  const hits = readFileSync(SITE_LOG, 'utf8').split('\n')
    .filter((l) => l.includes('GET /page.txt?n=2 ')).length;
  check(hits === 2, 'and the backend received that request twice', String(hits));
  await page.waitForFunction(() => document.querySelectorAll('#inspector tr[data-request]')
    .length === 4, null, { timeout: 10000 });
  ok('the replay is listed too');
  check(loads.length === 0, 'still without reloading the page', loads.join());

  // An administrator, in a browser of their own, approves the request:
  // the device's tunnel opens, and the operator's page shows it.
  const adminContext = await browser.newContext({ ignoreHTTPSErrors: true });
  const admin = await adminContext.newPage();
  await admin.goto(`${BASE}/ui/`);
  await admin.fill('input[name=api_key]', ADMIN_KEY);
  await admin.click('button[name=sign-in-key]');
  await admin.click('a[data-page=approvals]');
  const request = admin.locator('tr[data-approval]:has-text("asker-3")');
  await request.locator('button:text-is("Approve")').click({ timeout: 10000 });
  await admin.waitForSelector('tr[data-approval]:has-text("asker-3") td:text-is("approved")',
                              { timeout: 10000 }).catch(() => {});
  ok('an administrator approves it from the Approvals page');
  await page.click('a[data-page=tunnels]');
  await page.locator('tr[data-tunnel]:has-text("asker-3")').waitFor({ timeout: 15000 });
  ok('and the device\'s tunnel opens, shown live on the operator\'s Tunnels page');
  await adminContext.close();

  // The other pages load.
  for (const p of ['tunnels', 'approvals', 'audit']) {
    await page.click(`a[data-page=${p}]`);
    await page.waitForSelector(`h2:text-is("${p[0].toUpperCase() + p.slice(1)}")`);
  }
  // (the heading shows before the trail has come)
  await page.waitForSelector('main td:text-is("device-acl-changed")', { timeout: 5000 })
    .catch(() => {});
  check((await page.textContent('main')).includes('device-acl-changed'),
        'the audit page shows the changes, with their actor');
  check((await page.textContent('main')).includes('user:'),
        'naming the user who made them');

  // A change without the page's CSRF token is refused, cookie or not.
  const forged = await context.request.fetch(`${BASE}/v1/devices/${DEVICE}`, {
    method: 'PATCH', data: { reach_ports: '1-65535' } });
  check(forged.status() === 403, 'a change without the CSRF token is refused',
        String(forged.status()));

  // Signed out: the cookie no longer opens anything.
  await page.click('text=Sign out');
  await page.waitForSelector('input[name=api_key]');
  const after = await context.request.get(`${BASE}/v1/devices`, {
    headers: { Cookie: `weft_console=${cookie.value}` } });
  check(after.status() === 401, 'after signing out the old cookie gets 401',
        String(after.status()));
  let streams = '';
  for (let i = 0; i < 50 && streams !== '0'; i++) {
    const m = await (await context.request.get(`${BASE}/metrics`)).text();
    streams = (m.match(/^weft_events_subscribers (\d+)/m) || [])[1];
    if (streams !== '0') await page.waitForTimeout(100);
  }
  check(streams === '0', 'and its event stream has ended on the server', streams);

  // A viewer sees the switches but cannot flip them.
  await page.fill('input[name=api_key]', VIEWER_KEY);
  await page.click('button[name=sign-in-key]');
  await page.click(`a[data-device="${DEVICE}"]`);
  await page.locator('input[name=port-SSH]').waitFor();
  check(await page.locator('input[name=port-SSH]').isDisabled(),
        'a viewer sees the switches disabled');
  check(await page.locator('button[name=open-terminal]').count() === 0,
        'and no Terminal');
  await page.waitForSelector('nav [data-live=live]', { timeout: 10000 });
  ok('and follows the server\'s events too');
  await page.click('a[data-page=tunnels]');
  await page.locator('tr[data-tunnel]:has-text("web-5")').waitFor({ timeout: 10000 });
  check(await page.locator('button:text-is("Inspect")').count() === 0,
        'a viewer gets no Inspect button (visitors\' data)');

  // The Account page, as otto (signed in with his key: that session too
  // shows his password before changing it, and ends with a new one): his
  // own password, then TOTP. (That a new password ends his other sessions'
  // event streams at once: passwd.sh.)
  await page.click('text=Sign out');
  await page.fill('input[name=api_key]', OPERATOR_KEY);
  await page.click('button[name=sign-in-key]');
  check(await signedInAs('otto'), 'otto signs in with his key');
  await page.focus('nav a[data-page=account]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('h2:text-is("Account")');
  const who = await page.textContent('main');
  check(who.includes('Signed in as otto, role operator'),
        'the Account page, reached from the keyboard, says who and which role', who);
  const newPassword = page.getByLabel('New password', { exact: true });
  const again = page.getByLabel('The same password again');
  const rule = await page.textContent('#password-rule');
  const min = (rule.match(/At least (\d+) characters/) || [])[1];
  await page.getByLabel('Current password').fill(PASSWORD);
  await newPassword.fill('short one');
  await again.fill('short one');
  await page.click('button[name=set-password]');
  check(min && await alerted(`A password needs at least ${min} characters`),
        'a short password is refused with the server\'s sentence, the minimum the page states',
        rule);
  const NEW = 'otto\'s new console password';
  await newPassword.fill(NEW);
  await again.fill(NEW + '!');
  await page.click('button[name=set-password]');
  check(await alerted('The two passwords differ'), 'two different ones are refused, saying so');
  await again.fill(NEW);
  await page.click('button[name=set-password]');
  await page.waitForSelector('input[name=password]', { timeout: 15000 });
  check((await page.textContent('.notice')).includes('sign in again with the new password'),
        'a new password brings back sign-in, saying it ended the session');
  await signInWith('otto', NEW);
  check(await signedInAs('otto'), 'and the new password signs in');

  await page.click('nav a[data-page=account]');
  await page.click('button[name=totp-on]');
  const uri = (await page.textContent('code.otpauth')).trim();
  check(uri.startsWith('otpauth://totp/Weft:otto?'), 'turning TOTP on shows the URI as text', uri);
  // The QR code as drawn, read back by zbarimg: the same URI.
  const qrPng = `${process.env.HOME}/otpauth-qr.png`;
  await page.locator('svg.qr path').waitFor({ timeout: 5000 });
  await page.locator('svg.qr').screenshot({ path: qrPng });
  const read = execFileSync('zbarimg', ['-q', '--raw', qrPng]).toString().trim();
  check(read === uri, 'and as a QR code that reads back as that URI', read);
  // It waits for a code from the app (and his password): a wrong one
  // leaves it off.
  const secret = new URL(uri).searchParams.get('secret');
  const right = execFileSync('oathtool', ['--totp', '-b', secret]).toString().trim();
  await page.fill('article[data-totp] input[name=current-password]', NEW);
  await page.fill('input[name=totp-code]', String((Number(right) + 500000) % 1000000).padStart(6, '0'));
  await page.click('button[name=totp-confirm]');
  check(await alerted('TOTP stays off'), 'a wrong code from the app is refused, TOTP staying off');
  await page.fill('input[name=totp-code]', right);
  await page.click('button[name=totp-confirm]');
  await page.waitForSelector('article[data-totp=on]');
  check(await page.locator('code.otpauth').count() === 0, 'the right one turns it on, hiding the secret');
  await signOut();
  // (the code that confirmed is spent: sign in with the next step's)
  const next = Math.floor(Date.now() / 30000) * 30 + 30;
  const otto = execFileSync('oathtool', ['--totp', '-b', `--now=@${next}`, secret]).toString().trim();
  await signInWith('otto', NEW, otto);
  check(await signedInAs('otto'), 'otto signs in with a code for that secret from oathtool');
  await page.click('nav a[data-page=account]');
  await page.waitForSelector('article[data-totp=on]');
  // Turning it off asks for his password (someone else may be at his browser).
  await page.fill('article[data-totp] input[name=current-password]', 'not his password');
  await page.click('button[name=totp-off]');
  check(await alerted('The current password does not match'),
        'TOTP off with a wrong current password is refused, saying so');
  await page.fill('article[data-totp] input[name=current-password]', NEW);
  await page.click('button[name=totp-off]');
  await page.waitForSelector('article[data-totp=off]');
  const session = await (await context.request.get(`${BASE}/ui/session`)).json();
  check(session.totp === false, 'and turns TOTP off from the page', JSON.stringify(session));
  check(errors.length === 0, 'no script errors on the page', errors.join(' | '));
} finally {
  for (const a of agents) a.kill();
  await browser.close();
}
process.exit(failed ? 1 : 0);
