// The console as people see it: every page signed in as an operator, at
// a phone's width (375 px) and a desktop's (1280 px), saved as
// screenshots under OUT for anyone to look at; no page scrolls sideways
// at 375 px; every response of the console carries the CSP; no request
// leaves the server's origin; and the first load's weight, compressed.
//   BASE=https://127.0.0.1:PORT OPERATOR_KEY=... OUT=DIR node console_shots.mjs
import { mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { chromium } from '../../ui/node_modules/playwright-core/index.mjs';

const { BASE, OPERATOR_KEY, OUT } = process.env;
const LIMIT_KIB = 300; // issue 20: the first load under 300 KiB compressed
let failed = 0;
const ok = (what) => console.log(`ok: ${what}`);
function check(cond, what, detail = '') {
  if (cond) ok(what);
  else { failed++; console.log(`FAIL: ${what}${detail ? `: ${detail}` : ''}`); }
}
mkdirSync(OUT, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
try {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const origin = new URL(BASE).origin;
  const elsewhere = [], noCsp = [], firstLoad = [];
  let loading = true;
  page.on('request', (r) => {
    if (!r.url().startsWith(origin + '/') && !r.url().startsWith('data:'))
      elsewhere.push(r.url());
  });
  page.on('response', async (r) => {
    const url = new URL(r.url());
    if (url.origin !== origin || !url.pathname.startsWith('/ui/')) return;
    if (r.request().resourceType() !== 'fetch' &&
        !r.headers()['content-security-policy'])
      noCsp.push(url.pathname);
    if (loading && r.request().resourceType() !== 'fetch')
      firstLoad.push(r.body().then((b) => [url.pathname, gzipSync(b).length],
                                   () => [url.pathname, 0]));
  });

  await page.goto(`${BASE}/ui/`);
  await page.waitForSelector('input[name=api_key]');
  loading = false;
  const sizes = await Promise.all(firstLoad);
  const total = sizes.reduce((n, [, s]) => n + s, 0);
  console.log(`first load: ${sizes.length} files, ${(total / 1024).toFixed(1)} KiB ` +
              `gzip-compressed (${sizes.map(([p, s]) => `${p} ${s}`).join(', ')})`);
  check(sizes.length > 0 && total < LIMIT_KIB * 1024,
        `the first load is under ${LIMIT_KIB} KiB compressed`, `${total} bytes`);

  await page.fill('input[name=api_key]', OPERATOR_KEY);
  await page.click('button[name=sign-in-key]');
  await page.waitForSelector('nav [data-live=live]', { timeout: 15000 });
  for (const name of ['devices', 'tunnels', 'approvals', 'audit', 'account']) {
    for (const width of [375, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.click(`nav a[data-page=${name}]`);
      await page.waitForSelector(`nav a[data-page=${name}][aria-current=true]`);
      await page.waitForTimeout(300); // its data, and the layout settled
      await page.screenshot({ path: `${OUT}/${name}-${width}.png`, fullPage: true });
      if (width === 375) {
        const wide = await page.evaluate(() => document.documentElement.scrollWidth);
        check(wide <= 375, `${name} fits 375 px without scrolling sideways`,
              `${wide} px wide`);
      }
    }
  }
  ok(`screenshots of 5 pages at 375 and 1280 px in ${OUT}`);

  // The Account page with a new TOTP secret shown (its long URI and its
  // QR code), waiting for a code; "Not now" leaves TOTP off.
  await page.click('nav a[data-page=account]');
  await page.click('button[name=totp-on]');
  await page.waitForSelector('svg.qr path', { timeout: 5000 });
  for (const width of [375, 1280]) {
    await page.setViewportSize({ width, height: 800 });
    await page.waitForTimeout(100);
    await page.screenshot({ path: `${OUT}/account-totp-${width}.png`, fullPage: true });
    if (width === 375) {
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      check(wide <= 375, 'a new TOTP secret fits 375 px too', `${wide} px wide`);
    }
  }
  await page.click('button[name=totp-cancel]');
  await page.waitForSelector('article[data-totp=off] button[name=totp-on]');

  // The Tunnels page's last minute and idle time left, drawn each second.
  await page.click('nav a[data-page=tunnels]');
  await page.waitForSelector('tr[data-tunnel] svg.throughput', { timeout: 10000 })
    .then(() => ok('each tunnel has its last minute\'s throughput drawn'),
          () => check(false, 'a throughput line per tunnel'));
  const idle = await page.locator('tr[data-tunnel] td.idle').first().textContent();
  check(/^\d+ (s|min|h)/.test(idle), 'and the idle time it has left', idle);
  check(noCsp.length === 0, 'every console response carries the CSP', noCsp.join(' '));
  check(elsewhere.length === 0, 'no request leaves the server\'s origin',
        elsewhere.join(' '));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
