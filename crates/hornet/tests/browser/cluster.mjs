// Drives the dashboard's Cluster tab in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core). On SINGLE_URL (a broker
// without [cluster]) the tab says "not clustered". On BASE_URL (node NODE)
// it shows NODE reachable with at least OWNED persistent sessions, and
// OTHER alive with its link up, ROUTES routes, WILLS wills and at least
// FORWARDED messages forwarded (the page refreshes every 2 s). It then
// prints "STAGE alive" and waits for OTHER to show dead (the test kills
// it). Run by tests/cluster.rs:
//   node cluster.mjs SINGLE_URL BASE_URL NODE OTHER OWNED ROUTES WILLS FORWARDED SCREENSHOT_DIR
// Prints "OK cluster" on success; any failure exits non-zero with the reason.
import { chromium } from 'playwright-core';

const [single, base, node, other, owned, routes, wills, forwarded, shots] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 20000;

const hardStop = setTimeout(() => { console.error('FAIL cluster: 80 s hard timeout'); process.exit(2); }, 80000);
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(timeout);

  // A single broker: the tab says so and shows no cluster figures.
  await page.goto(single + '/');
  await page.click('nav a[data-tab=cluster]');
  await page.getByTestId('cluster-off').waitFor();
  if (await page.getByTestId('cluster-on').isVisible()) throw new Error('cluster figures shown on a single broker');
  const off = await page.getByTestId('cluster-off').innerText();
  if (!off.startsWith('Not clustered')) throw new Error(`single broker: ${off}`);
  await page.screenshot({ path: `${shots}/dashboard-cluster-single.png`, fullPage: true });

  // A cluster node.
  await page.goto(base + '/');
  await page.click('nav a[data-tab=cluster]');
  await page.getByTestId('cluster-on').waitFor();
  if (await page.getByTestId('cluster-off').isVisible()) throw new Error('"not clustered" shown on a cluster node');
  const card = async (id) => (await page.getByTestId(id).innerText()).trim();
  if ((await card('cluster-node')) !== node) throw new Error(`node: ${await card('cluster-node')}, expected ${node}`);
  if ((await card('cluster-state')) !== 'reachable') throw new Error(`etcd quorum: ${await card('cluster-state')}`);
  if (Number(await card('cluster-owned')) < Number(owned)) throw new Error(`owned sessions: ${await card('cluster-owned')}, expected ${owned}`);
  const row = page.locator(`#cluster-rows tr[data-node="${other}"][data-state="alive"][data-link="up"]`);
  await row.waitFor();
  // The figures refresh: wait for the routes, wills and forwarded counts.
  await page.waitForFunction(([n, r, w, f]) => {
    const tr = document.querySelector(`#cluster-rows tr[data-node="${n}"]`);
    const at = (i) => Number(tr.children[i].textContent);
    return tr && at(3) === r && at(4) === w && at(5) >= f;
  }, [other, Number(routes), Number(wills), Number(forwarded)]);
  const cells = row.locator('td');
  const text = async (i) => (await cells.nth(i).innerText()).trim();
  if ((await text(1)) !== 'alive' || (await text(2)) !== 'up') throw new Error(`row: ${await row.innerText()}`);
  console.log(`cluster tab: ${(await row.innerText()).replace(/\s+/g, ' ')}`);
  const count = await page.getByTestId('cluster-count').innerText();
  if (count !== '1 other node, 1 alive') throw new Error(`count: ${count}`);
  await page.screenshot({ path: `${shots}/dashboard-cluster.png`, fullPage: true });
  console.log('STAGE alive');

  // The test kills OTHER: once its lease expires the row says dead.
  await page.locator(`#cluster-rows tr[data-node="${other}"][data-state="dead"]`).waitFor();
  const dead = await page.getByTestId('cluster-count').innerText();
  if (dead !== '1 other node, 0 alive') throw new Error(`count after the kill: ${dead}`);
  await page.screenshot({ path: `${shots}/dashboard-cluster-dead.png`, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('OK cluster');
} catch (e) {
  console.error(`FAIL cluster: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(hardStop);
}
