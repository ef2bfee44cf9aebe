// Drives the dashboard's Bridges tab in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core): the bridge NAME is listed as
// connected to ADDRESS, and its Sent count reaches SENT (the page refreshes
// every 2 s). Run by tests/admin_dashboard.rs:
//   node bridges.mjs BASE_URL NAME ADDRESS SENT SCREENSHOT_DIR
// Prints "OK bridges" on success; any failure exits non-zero with the reason.
import { chromium } from 'playwright-core';

const [base, name, address, sent, shots] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 15000;

const hardStop = setTimeout(() => { console.error('FAIL bridges: 60 s hard timeout'); process.exit(2); }, 60000);
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(timeout);

  await page.goto(base + '/');
  await page.click('nav a[data-tab=bridges]');
  const row = page.locator(`#bridge-rows tr[data-bridge="${name}"][data-state="connected"]`);
  await row.waitFor();
  const cells = row.locator('td');
  const text = async (i) => (await cells.nth(i).innerText()).trim();
  if ((await text(2)) !== address) throw new Error(`address: ${await text(2)}, expected ${address}`);
  // The figures refresh: wait for the Sent count the test published.
  await page.waitForFunction(([n, want]) => {
    const tr = document.querySelector(`#bridge-rows tr[data-bridge="${n}"]`);
    return tr && Number(tr.children[3].textContent) >= want;
  }, [name, Number(sent)]);
  console.log(`bridges tab: ${(await row.innerText()).replace(/\s+/g, ' ')}`);
  const count = await page.getByTestId('bridge-count').innerText();
  if (count !== '1 bridge') throw new Error(`count: ${count}`);
  await page.screenshot({ path: `${shots}/dashboard-bridges.png`, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('OK bridges');
} catch (e) {
  console.error(`FAIL bridges: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(hardStop);
}
