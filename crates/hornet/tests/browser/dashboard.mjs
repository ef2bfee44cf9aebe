// Drives the Hornet dashboard in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core): logs in (when USER and PASSWORD are given: a
// wrong password first, which the form must refuse), sees the connected
// client, kicks it, deletes a retained message, makes a role and a user
// in the Users tab, saves screenshots, and logs out. Run by tests/admin_dashboard.rs:
//   node dashboard.mjs BASE_URL CLIENT_ID RETAINED_TOPIC SCREENSHOT_DIR [USER PASSWORD]
// Prints "OK dashboard" on success; any failure exits non-zero with the reason.
import { chromium } from 'playwright-core';

const [base, clientId, topic, shots, user, password] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 10000;

const hardStop = setTimeout(() => { console.error('FAIL dashboard: 60 s hard timeout'); process.exit(2); }, 60000);
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(timeout);

  await page.goto(base + '/');
  if (user) {
    // Credentials are required: the login form, a refusal, then the session.
    await page.getByTestId('login').waitFor();
    await page.getByTestId('username').fill(user);
    await page.getByTestId('password').fill('not-' + password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('login-error').filter({ hasText: /wrong/ }).waitFor();
    await page.getByTestId('password').fill(password);
    await page.getByTestId('login-submit').click();
    await page.getByTestId('whoami').filter({ hasText: `user ${user} (admin)` }).waitFor();
    const cookies = await page.evaluate(() => document.cookie);
    if (cookies.includes('hornet_session')) throw new Error('the session cookie is readable by scripts');
    await page.screenshot({ path: `${shots}/dashboard-login.png`, fullPage: true });
    console.log(`logged in as ${user}`);
  }

  // Overview: live figures.
  await page.getByTestId('clients-connected').filter({ hasText: /^1$/ }).waitFor();
  console.log('overview shows 1 connected client');

  // Clients: the client is listed; kick it.
  await page.click('nav a[data-tab=clients]');
  const row = page.locator(`tr[data-client-id="${clientId}"]`);
  await row.waitFor();
  await row.click();
  await page.getByTestId('client-detail').filter({ hasText: clientId }).waitFor();
  await page.getByTestId(`kick-${clientId}`).click();
  await row.waitFor({ state: 'detached' });
  console.log(`kicked ${clientId}`);

  // Retained: delete one message.
  await page.click('nav a[data-tab=retained]');
  const msg = page.locator(`tr[data-topic="${topic}"]`);
  await msg.waitFor();
  await page.getByTestId(`delete-${topic}`).click();
  await msg.waitFor({ state: 'detached' });
  console.log(`deleted retained ${topic}`);

  // Users: a role and a user made through the forms (the Rust test then
  // logs in as that user over MQTT).
  await page.click('nav a[data-tab=users]');
  await page.getByTestId('role-name').fill('org-a');
  await page.getByTestId('role-rules').fill('readwrite org-a/#\ndeny org-a/secret/#');
  await page.getByTestId('role-save').click();
  await page.locator('tr[data-role="org-a"]').filter({ hasText: 'deny org-a/secret/#' }).waitFor();
  await page.getByTestId('user-name').fill('carol');
  await page.getByTestId('user-password').fill('carol-pw');
  await page.getByTestId('user-roles').fill('org-a');
  await page.getByTestId('user-save').click();
  await page.locator('tr[data-user="carol"]').filter({ hasText: 'org-a' }).waitFor();
  await page.screenshot({ path: `${shots}/dashboard-users.png`, fullPage: true });
  console.log('made role org-a and user carol');

  // Overview again, with the chart drawn, for the screenshot.
  await page.click('nav a[data-tab=overview]');
  await page.getByTestId('clients-connected').filter({ hasText: /^0$/ }).waitFor();
  await page.locator('#chart svg polyline').first().waitFor({ state: 'attached' });
  await page.screenshot({ path: `${shots}/dashboard-overview.png`, fullPage: true });
  await page.click('nav a[data-tab=retained]');
  await page.screenshot({ path: `${shots}/dashboard-retained.png`, fullPage: true });
  if (user) {
    // Logging out ends the session: the login form again, the API refuses.
    await page.getByTestId('logout').click();
    await page.getByTestId('login').waitFor();
    const status = await page.evaluate(async () => (await fetch('/api/v1/clients')).status);
    if (status !== 401) throw new Error(`after logout the API answered ${status}`);
    console.log('logged out');
  }
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('OK dashboard');
} catch (e) {
  console.error(`FAIL dashboard: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(hardStop);
}
