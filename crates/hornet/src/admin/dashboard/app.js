// The Hornet dashboard: plain ES module, talks to the admin API on the same
// origin (/api/v1/...). Figures refresh every 2 s; the rates chart starts from
// the broker's own samples of the last minutes (/api/v1/broker/history). The publish/subscribe panel uses MQTT.js over
// the broker's WebSocket listener when /api/v1/broker lists one (kind "ws"),
// else it publishes through the HTTP API.
import { drawChart } from '/dashboard/chart.js';

const $ = (id) => document.getElementById(id);
const SPAN_MS = 5 * 60 * 1000;
const REFRESH_MS = 2000;
let session = null;     // GET /api/v1/session: { required, user, role, locked? }
let broker = null;
let samples = [];      // [{ t, received, sent }]
let rates = { in: [], out: [] };
let mqttClient = null;

// Credentials travel in the HttpOnly session cookie the login sets; the
// page never sees a password or token again after the login form.
async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (options.body) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { ...options, headers, credentials: 'same-origin' });
  if (r.status === 401) {
    showLogin();
    throw new Error('not logged in');
  }
  const text = await r.text();
  const body = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(body && body.message ? body.message : `HTTP ${r.status}`);
  return body;
}

function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text === null || text === undefined ? '' : String(text);
  if (cls) td.className = cls;
  return td;
}

function button(label, cls, onClick, testid) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (cls) b.className = cls;
  if (testid) b.dataset.testid = testid;
  b.addEventListener('click', (e) => { e.stopPropagation(); onClick(); });
  return b;
}

function status(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : 'muted';
}

function duration(s) {
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${s % 60}s`;
}

// ---- overview ----
async function refreshOverview() {
  broker = await api('/api/v1/broker');
  const sys = await api('/api/v1/broker/sys');
  $('version').textContent = `version ${broker.version}`;
  $('m-connected').textContent = broker.clients_connected;
  $('m-sessions').textContent = broker.sessions;
  $('m-subscriptions').textContent = broker.subscriptions;
  $('m-retained').textContent = broker.retained_messages;
  $('m-uptime').textContent = duration(broker.uptime_seconds);
  $('m-dropped').textContent = sys['publish/messages/dropped'];
  const now = Date.now();
  samples.push({ t: now, received: sys['publish/messages/received'], sent: sys['publish/messages/sent'] });
  samples = samples.filter((s) => s.t >= now - SPAN_MS - REFRESH_MS);
  if (samples.length >= 2) {
    const a = samples[samples.length - 2], b = samples[samples.length - 1];
    const secs = (b.t - a.t) / 1000;
    const rin = Math.max(0, (b.received - a.received) / secs), rout = Math.max(0, (b.sent - a.sent) / secs);
    rates.in.push([now, rin]); rates.out.push([now, rout]);
    rates.in = rates.in.filter(([t]) => t >= now - SPAN_MS);
    rates.out = rates.out.filter(([t]) => t >= now - SPAN_MS);
    $('m-rate-in').textContent = rin.toFixed(1);
    $('m-rate-out').textContent = rout.toFixed(1);
  }
  drawChart($('chart'), [
    { name: 'PUBLISH in / s', color: '#d9860b', points: rates.in },
    { name: 'PUBLISH out / s', color: '#2f6fde', points: rates.out },
  ], SPAN_MS);
  const rows = broker.listeners.map((l) => {
    const tr = document.createElement('tr');
    tr.dataset.kind = l.kind;
    const mode = l.kind === 'admin' ? (l.tls ? 'HTTPS API' : 'HTTP API') : [l.path, l.tls && `TLS ${l.tls}`].filter(Boolean).join(', ');
    tr.append(cell(l.kind), cell(l.address), cell(l.port), cell(mode), cell(l.active), cell(l.accepted),
      cell(l.refused_max_connections), cell(l.refused_rate), cell(l.failed_handshakes));
    return tr;
  });
  $('listeners').replaceChildren(...rows);
}

// The broker samples every 5 s; seed the chart with the last minutes.
async function loadHistory() {
  const points = await api('/api/v1/broker/history');
  const cutoff = Date.now() - SPAN_MS;
  rates.in = points.filter((p) => p.t >= cutoff).map((p) => [p.t, p.publish_received_per_s]).concat(rates.in);
  rates.out = points.filter((p) => p.t >= cutoff).map((p) => [p.t, p.publish_sent_per_s]).concat(rates.out);
}

// ---- clients ----
async function refreshClients() {
  const params = new URLSearchParams({ limit: '200' });
  const prefix = $('client-filter').value.trim();
  if (prefix) params.set('client_id', prefix);
  if ($('client-connected').value) params.set('connected', $('client-connected').value);
  const page = await api(`/api/v1/clients?${params}`);
  const rows = page.data.map((c) => {
    const tr = document.createElement('tr');
    tr.className = 'clickable';
    tr.dataset.clientId = c.client_id;
    tr.append(cell(c.client_id), cell(c.username), cell(c.address), cell(c.protocol), cell(c.subscriptions),
      cell(c.inflight), cell(c.queued), cell(c.dropped), cell(c.connected ? 'connected' : 'offline'));
    const actions = document.createElement('td');
    if (c.connected) actions.append(button('Kick', 'danger', () => kick(c.client_id), `kick-${c.client_id}`));
    actions.append(button('Discard session', 'danger', () => discard(c.client_id), `discard-${c.client_id}`));
    tr.append(actions);
    tr.addEventListener('click', () => showClient(c.client_id));
    return tr;
  });
  $('client-rows').replaceChildren(...rows);
  $('client-count').textContent = `${page.meta.count} clients`;
}

async function showClient(id) {
  const d = await api(`/api/v1/clients/${encodeURIComponent(id)}`);
  const panel = $('client-detail');
  panel.hidden = false;
  const dl = document.createElement('dl');
  const add = (k, v) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.textContent = v ?? '–'; dl.append(dt, dd); };
  add('Client id', d.client_id); add('State', d.connected ? 'connected' : 'offline'); add('User', d.username);
  add('Address', d.address); add('Protocol', d.protocol); add('Keep-alive (s)', d.keep_alive);
  add('Session expiry (s)', d.session_expiry_interval === null ? 'never' : d.session_expiry_interval);
  add('In flight', d.inflight); add('Queued', `${d.queued} (${d.queued_bytes} bytes)`); add('Dropped', d.dropped);
  add('Will', d.will ? `${d.will.topic} (QoS ${d.will.qos}${d.will.retain ? ', retained' : ''}, ${d.will.payload_bytes} bytes)` : 'none');
  add('Subscriptions', d.subscription_list.map((s) => `${s.filter} (QoS ${s.qos})`).join(', ') || 'none');
  const h = document.createElement('h2');
  h.textContent = `Client ${d.client_id}`;
  panel.replaceChildren(h, dl);
}

async function kick(id) {
  await api(`/api/v1/clients/${encodeURIComponent(id)}`, { method: 'DELETE' });
  status(`kicked ${id}`);
  await refreshClients();
}

async function discard(id) {
  if (!confirm(`Discard the session of ${id}? Its subscriptions and queued messages are lost.`)) return;
  await api(`/api/v1/clients/${encodeURIComponent(id)}/session`, { method: 'DELETE' });
  status(`session of ${id} discarded`);
  $('client-detail').hidden = true;
  await refreshClients();
}

// ---- subscriptions ----
async function refreshSubscriptions() {
  const tree = await api('/api/v1/topics?limit=1000');
  $('topic-rows').replaceChildren(...tree.data.map((f) => {
    const tr = document.createElement('tr');
    tr.append(cell(f.filter), cell(f.subscribers));
    return tr;
  }));
  const subs = await api('/api/v1/subscriptions?limit=1000');
  $('sub-rows').replaceChildren(...subs.data.map((s) => {
    const tr = document.createElement('tr');
    tr.append(cell(s.client_id), cell(s.filter), cell(s.qos), cell(s.no_local ? 'yes' : ''), cell(s.retain_as_published ? 'yes' : ''), cell(s.identifier));
    return tr;
  }));
}

// ---- retained ----
function retainedFilter() {
  return $('retained-filter').value.trim() || '#';
}

async function refreshRetained() {
  const page = await api(`/api/v1/retained?limit=1000&filter=${encodeURIComponent(retainedFilter())}`);
  $('retained-rows').replaceChildren(...page.data.map((m) => {
    const tr = document.createElement('tr');
    tr.dataset.topic = m.topic;
    tr.append(cell(m.topic), cell(m.payload_encoding === 'base64' ? `base64: ${m.payload}` : m.payload, 'payload'),
      cell(m.qos), cell(m.payload_bytes));
    const td = document.createElement('td');
    td.append(button('Delete', 'danger', () => deleteRetained(m.topic), `delete-${m.topic}`));
    tr.append(td);
    return tr;
  }));
  $('retained-count').textContent = `${page.meta.count} retained messages match ${retainedFilter()}`;
}

async function deleteRetained(topic) {
  const path = topic.split('/').map(encodeURIComponent).join('/');
  await api(`/api/v1/retained/${path}`, { method: 'DELETE' });
  status(`deleted retained message on ${topic}`);
  await refreshRetained();
}

async function deleteAllRetained() {
  const filter = retainedFilter();
  if (!confirm(`Delete every retained message matching ${filter}?`)) return;
  const r = await api(`/api/v1/retained?filter=${encodeURIComponent(filter)}`, { method: 'DELETE' });
  status(`deleted ${r.deleted} retained messages`);
  await refreshRetained();
}

// ---- bridges ----
async function refreshBridges() {
  const bridges = await api('/api/v1/bridges');
  $('bridge-rows').replaceChildren(...bridges.map((b) => {
    const tr = document.createElement('tr');
    tr.dataset.bridge = b.name;
    tr.dataset.state = b.connected ? 'connected' : 'disconnected';
    tr.append(cell(b.name), cell(b.connected ? 'connected' : 'disconnected'), cell(b.address), cell(b.sent),
      cell(b.received), cell(b.dropped), cell(b.reconnects), cell(b.last_error, b.last_error ? 'error' : ''));
    return tr;
  }));
  $('bridge-count').textContent = bridges.length ? `${bridges.length} bridge${bridges.length === 1 ? '' : 's'}` : 'No bridges are configured.';
}

// ---- cluster ----
async function refreshCluster() {
  const c = await api('/api/v1/cluster');
  $('cluster-off').hidden = c.enabled;
  $('cluster-on').hidden = !c.enabled;
  if (!c.enabled) return;
  $('c-node').textContent = c.node;
  $('c-state').textContent = c.cut_off ? 'cut off' : 'reachable';
  $('c-state').className = c.cut_off ? 'value error' : 'value';
  $('c-owned').textContent = c.sessions_owned;
  $('c-exported').textContent = c.routes_exported;
  $('c-dropped').textContent = c.dropped;
  $('c-shared-dropped').textContent = c.shared_dropped;
  $('cluster-rows').replaceChildren(...c.nodes.map((n) => {
    const tr = document.createElement('tr');
    tr.dataset.node = n.name;
    tr.dataset.state = n.alive ? 'alive' : 'dead';
    tr.dataset.link = n.link_up ? 'up' : 'down';
    tr.append(cell(n.name), cell(n.alive ? 'alive' : 'dead', n.alive ? '' : 'error'), cell(n.link_up ? 'up' : 'down', n.link_up ? '' : 'error'),
      cell(n.routes), cell(n.wills), cell(n.forwarded), cell(n.received));
    return tr;
  }));
  const alive = c.nodes.filter((n) => n.alive).length;
  $('cluster-count').textContent = c.nodes.length
    ? `${c.nodes.length} other node${c.nodes.length === 1 ? '' : 's'}, ${alive} alive`
    : 'No other node has joined.';
}

// ---- runtime users and roles ----
async function refreshUsers() {
  const users = await api('/api/v1/users');
  $('user-rows').replaceChildren(...users.map((u) => {
    const tr = document.createElement('tr');
    tr.dataset.user = u.name;
    tr.append(cell(u.name), cell(u.roles.join(', ')));
    const td = document.createElement('td');
    td.append(button('Delete', 'danger', guard(() => deleteUser(u.name)), `delete-user-${u.name}`));
    tr.append(td);
    return tr;
  }));
  const roles = await api('/api/v1/roles');
  $('role-rows').replaceChildren(...roles.map((r) => {
    const tr = document.createElement('tr');
    tr.dataset.role = r.name;
    tr.append(cell(r.name), cell(r.rules.map((x) => `${x.access} ${x.filter}`).join('; ')));
    const td = document.createElement('td');
    td.append(button('Delete', 'danger', guard(() => deleteRole(r.name)), `delete-role-${r.name}`));
    tr.append(td);
    return tr;
  }));
}

async function saveUser(e) {
  e.preventDefault();
  const name = $('user-name').value.trim();
  const body = { roles: $('user-roles').value.split(',').map((r) => r.trim()).filter(Boolean) };
  if ($('user-password').value) body.password = $('user-password').value;
  await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: 'PUT', body: JSON.stringify(body) });
  $('user-password').value = '';
  status(`saved user ${name}`);
  await refreshUsers();
}

async function deleteUser(name) {
  if (!confirm(`Delete user ${name}? Its clients are disconnected.`)) return;
  await api(`/api/v1/users/${encodeURIComponent(name)}`, { method: 'DELETE' });
  status(`deleted user ${name}`);
  await refreshUsers();
}

async function saveRole(e) {
  e.preventDefault();
  const name = $('role-name').value.trim();
  const rules = $('role-rules').value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [access, ...filter] = l.split(/\s+/);
    return { access, filter: filter.join(' ') };
  });
  await api(`/api/v1/roles/${encodeURIComponent(name)}`, { method: 'PUT', body: JSON.stringify({ rules }) });
  status(`saved role ${name}`);
  await refreshUsers();
}

async function deleteRole(name) {
  if (!confirm(`Delete role ${name}?`)) return;
  await api(`/api/v1/roles/${encodeURIComponent(name)}`, { method: 'DELETE' });
  status(`deleted role ${name}`);
  await refreshUsers();
}

// ---- publish / subscribe ----
function wsListener() {
  return broker && broker.listeners.find((l) => l.kind === 'ws' || l.kind === 'wss');
}

function loadMqttJs() {
  if (window.mqtt) return Promise.resolve(window.mqtt);
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/dashboard/mqtt.min.js';
    s.onload = () => resolve(window.mqtt);
    s.onerror = () => reject(new Error('cannot load MQTT.js'));
    document.head.append(s);
  });
}

async function setupPubSub() {
  if (!broker) broker = await api('/api/v1/broker');
  const ws = wsListener();
  if (!ws) {
    $('ws-state').textContent = 'No WebSocket listener is configured: publishing goes through the HTTP API; subscribing needs a WebSocket listener.';
    $('sub-button').disabled = true;
    return;
  }
  if (mqttClient) return;
  const mqtt = await loadMqttJs();
  const scheme = ws.kind === 'wss' ? 'wss' : 'ws';
  const host = ['0.0.0.0', '::'].includes(ws.address) ? location.hostname : ws.address;
  const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${ws.port}${ws.path || '/mqtt'}`;
  mqttClient = mqtt.connect(url, { clientId: `hornet-dashboard-${Math.random().toString(16).slice(2, 8)}`, protocolVersion: 5 });
  mqttClient.on('connect', () => { $('ws-state').textContent = `Connected to ${url} over MQTT 5.`; });
  mqttClient.on('error', (e) => { $('ws-state').textContent = `WebSocket MQTT error: ${e.message}`; });
  mqttClient.on('message', (topic, payload) => {
    const li = document.createElement('li');
    li.textContent = `${new Date().toLocaleTimeString()} ${topic}: ${new TextDecoder().decode(payload)}`;
    $('messages').prepend(li);
  });
}

async function publish(e) {
  e.preventDefault();
  const topic = $('pub-topic').value, payload = $('pub-payload').value;
  const qos = Number($('pub-qos').value), retain = $('pub-retain').checked;
  if (mqttClient && mqttClient.connected) {
    mqttClient.publish(topic, payload, { qos, retain });
    $('pub-result').textContent = `published to ${topic} over MQTT`;
    return;
  }
  const r = await api('/api/v1/publish', { method: 'POST', body: JSON.stringify({ topic, payload, qos, retain }) });
  $('pub-result').textContent = `published to ${topic} through the API (${r.matched ? 'delivered to subscribers' : 'no subscriber matched'})`;
}

function subscribe(e) {
  e.preventDefault();
  if (!mqttClient) return;
  const filter = $('sub-filter').value;
  mqttClient.subscribe(filter, { qos: 1 }, (err) => {
    $('ws-state').textContent = err ? `subscribe failed: ${err.message}` : `subscribed to ${filter}`;
  });
}

// ---- tabs and refresh loop ----
const refreshers = { overview: refreshOverview, clients: refreshClients, subscriptions: refreshSubscriptions, retained: refreshRetained, bridges: refreshBridges, cluster: refreshCluster, users: refreshUsers, pubsub: setupPubSub };
let current = 'overview';

function guard(f) {
  return (...args) => Promise.resolve(f(...args)).catch((err) => status(err.message, true));
}

function show(tab) {
  current = refreshers[tab] ? tab : 'overview';
  for (const s of document.querySelectorAll('section.tab')) s.hidden = s.id !== current;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.tab === current);
  guard(refreshers[current])();
}

async function tick() {
  try {
    // The overview's rates need samples even while another tab is shown.
    await refreshOverview();
    if (current !== 'overview' && current !== 'pubsub') await refreshers[current]();
    status(`updated ${new Date().toLocaleTimeString()}`);
  } catch (err) {
    status(err.message, true);
  }
}

// ---- login ----
function showLogin() {
  $('login').hidden = false;
  document.querySelector('main').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  if (session && session.locked) {
    $('locked').hidden = false;
    $('locked').textContent = `Locked: ${session.locked}.`;
    $('login-form').hidden = true;
  }
}

function showApp() {
  $('login').hidden = true;
  document.querySelector('main').hidden = false;
  $('whoami').textContent = session.required ? `${session.user} (${session.role})` : '';
  $('logout').hidden = !session.required;
  // The read-only role sees no buttons that would change anything.
  document.body.classList.toggle('read-only', session.role !== 'admin');
}

async function loadSession() {
  const r = await fetch('/api/v1/session', { credentials: 'same-origin' });
  session = await r.json();
  if (session.required && !session.user) {
    showLogin();
    return false;
  }
  showApp();
  return true;
}

async function logIn(e) {
  e.preventDefault();
  const user = $('username').value;
  const secret = $('password').value;
  const body = user ? { username: user, password: secret } : { token: secret };
  const r = await fetch('/api/v1/login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const answer = await r.json();
  if (!r.ok) {
    $('login-error').textContent = answer.message || `HTTP ${r.status}`;
    return;
  }
  $('login-error').textContent = '';
  $('password').value = '';
  session = answer;
  showApp();
  show(location.hash.slice(1) || 'overview');
  guard(loadHistory)().then(tick);
}

async function logOut() {
  await fetch('/api/v1/logout', { method: 'POST', credentials: 'same-origin' });
  session = { required: true, user: null, role: null };
  showLogin();
}

window.addEventListener('hashchange', () => show(location.hash.slice(1)));
window.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', (e) => { logIn(e).catch((err) => { $('login-error').textContent = err.message; }); });
  $('logout').addEventListener('click', () => { logOut().catch((err) => status(err.message, true)); });
  $('client-search').addEventListener('submit', (e) => { e.preventDefault(); guard(refreshClients)(); });
  $('retained-search').addEventListener('submit', (e) => { e.preventDefault(); guard(refreshRetained)(); });
  $('retained-delete-all').addEventListener('click', guard(deleteAllRetained));
  $('publish-form').addEventListener('submit', guard(publish));
  $('user-form').addEventListener('submit', guard(saveUser));
  $('role-form').addEventListener('submit', guard(saveRole));
  $('subscribe-form').addEventListener('submit', guard(subscribe));
  setInterval(() => { if (session && session.user) tick(); }, REFRESH_MS);
  if (!(await loadSession())) return;
  show(location.hash.slice(1) || 'overview');
  guard(loadHistory)().then(tick);
});
