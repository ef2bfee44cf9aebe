// Drives the dashboard's publish/subscribe panel in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) against a broker
// with a `ws` listener: the panel connects with MQTT.js over the WebSocket
// listener the broker lists, subscribes, shows a message a rumqttc client
// published, and publishes one the rumqttc client receives. Also checks
// that the overview lists the listeners with their kind and path.
// Run by tests/admin_dashboard.rs:
//   node pubsub.mjs BASE_URL FILTER IN_TOPIC IN_PAYLOAD OUT_TOPIC OUT_PAYLOAD SCREENSHOT_DIR
// Prints "SUBSCRIBED" once the panel's subscription is acknowledged (the
// test then publishes IN_PAYLOAD), then "OK pubsub" on success; any failure
// exits non-zero with the reason.
import { chromium } from 'playwright-core';

const [base, filter, inTopic, inPayload, outTopic, outPayload, shots] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const timeout = 10000;

const hardStop = setTimeout(() => { console.error('FAIL pubsub: 60 s hard timeout'); process.exit(2); }, 60000);
const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.setDefaultTimeout(timeout);

  // Overview: every listener with its transport; the WebSocket one with its path.
  await page.goto(base + '/');
  const ws = page.locator('#listeners tr[data-kind="ws"]');
  await ws.waitFor();
  const wsText = await ws.innerText();
  if (!wsText.includes('/mqtt')) throw new Error(`ws listener row lacks its path: ${wsText}`);
  await page.locator('#listeners tr[data-kind="tcp"]').waitFor();
  await page.locator('#listeners tr[data-kind="admin"]').waitFor();
  console.log(`overview lists the ws listener: ${wsText.replace(/\s+/g, ' ')}`);

  // Publish / subscribe over the WebSocket listener.
  await page.click('nav a[data-tab=pubsub]');
  await page.getByTestId('ws-state').filter({ hasText: /^Connected to ws:\/\// }).waitFor();
  console.log(await page.getByTestId('ws-state').innerText());
  await page.fill('#sub-filter', filter);
  await page.click('#sub-button');
  await page.getByTestId('ws-state').filter({ hasText: `subscribed to ${filter}` }).waitFor();
  console.log('SUBSCRIBED');

  await page.getByTestId('messages').locator('li', { hasText: `${inTopic}: ${inPayload}` }).waitFor();
  console.log(`page shows ${inTopic}: ${inPayload}`);

  await page.fill('#pub-topic', outTopic);
  await page.fill('#pub-payload', outPayload);
  await page.selectOption('#pub-qos', '1');
  await page.click('#publish-form button');
  await page.getByTestId('pub-result').filter({ hasText: `published to ${outTopic} over MQTT` }).waitFor();
  console.log(`published ${outTopic} from the page`);

  await page.screenshot({ path: `${shots}/dashboard-pubsub.png`, fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
  console.log('OK pubsub');
} catch (e) {
  console.error(`FAIL pubsub: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
  clearTimeout(hardStop);
}
