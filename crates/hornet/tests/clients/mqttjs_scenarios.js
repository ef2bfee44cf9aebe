#!/usr/bin/env node
// MQTT.js (npm `mqtt` 5.x) scenarios against a broker, driven by
// crates/hornet/tests/mqttjs.rs.
//
//   node mqttjs_scenarios.js --port N --scenario NAME --protocol {3.1,3.1.1,5}
//                            [--transport ws|wss [--cafile CA.pem]]
//
// Each scenario checks itself, prints `OK <scenario>` and exits 0, or prints
// `FAIL <scenario>: <why>` and exits 1. The whole run is bounded by a hard
// timeout (exit 2). Nothing sleeps for a guessed time: every wait is on an
// event (CONNACK, SUBACK, a message, a close) with a timer only as its
// timeout, and absence is proven with a sentinel message published after the
// one that must not arrive (per-topic order for one publisher at one QoS,
// [MQTT-4.6.0-5]). Clients never reconnect (reconnectPeriod 0).
'use strict';

const crypto = require('crypto');

let mqtt;
try {
  mqtt = require('mqtt');
} catch (e) {
  console.log(
    'FAIL import: the npm package `mqtt` is missing (' + e.message + '); install it with ' +
      '`npm ci --prefix crates/hornet/tests/clients`',
  );
  process.exit(3);
}

const WAIT = 10000;
const HARD_TIMEOUT = 25000;
const HOST = '127.0.0.1';
const PROTOCOLS = {
  '3.1': { protocolId: 'MQIsdp', protocolVersion: 3 },
  '3.1.1': { protocolId: 'MQTT', protocolVersion: 4 },
  5: { protocolId: 'MQTT', protocolVersion: 5 },
};
// Unique per run; client ids stay within MQTT 3.1's 23 characters.
const UID = 'js' + crypto.randomBytes(5).toString('hex');

class Failure extends Error {}

function check(cond, msg) {
  if (!cond) throw new Failure(msg);
}

// Resolves with `promise`, or rejects with Failure(`what`) after `ms`.
function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Failure(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function parseArgs(argv) {
  const args = { keepaliveLimit: 5 };
  for (let i = 2; i < argv.length; i += 2) {
    const [key, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`missing value for ${key}`);
    if (key === '--port') args.port = Number(value);
    else if (key === '--port2') args.port2 = Number(value);
    else if (key === '--scenario') args.scenario = value;
    else if (key === '--protocol') args.protocol = value;
    else if (key === '--keepalive-limit') args.keepaliveLimit = Number(value);
    else if (key === '--transport') args.transport = value;
    else if (key === '--cafile') args.cafile = value;
    else throw new Error(`unknown argument ${key}`);
  }
  if (!args.port || !args.scenario || !(args.protocol in PROTOCOLS)) {
    throw new Error('usage: --port N --scenario NAME --protocol {3.1,3.1.1,5}');
  }
  return args;
}

const fmt = (m) => JSON.stringify(m);
const msg = (topic, payload, qos, retain) => ({
  topic,
  payload: Buffer.from(payload).toString('hex'),
  qos,
  retain,
});

// A connected MQTT.js client with a mailbox of received messages.
class Client {
  constructor(args, role, opts = {}) {
    this.args = args;
    this.v5 = args.protocol === '5';
    this.id = opts.clientId || UID + role;
    this.messages = [];
    this.waiters = [];
    this.closed = false;
    this.disconnectPacket = null;
    this.connack = null;
    const options = {
      host: HOST,
      port: opts.port || args.port,
      clientId: this.id,
      ...PROTOCOLS[args.protocol],
      clean: opts.clean !== undefined ? opts.clean : true,
      keepalive: opts.keepalive || 30,
      reconnectPeriod: 0,
      connectTimeout: WAIT,
    };
    // --transport ws|wss (path /mqtt, MQTT.js's default); wss trusts --cafile.
    if (args.transport === 'ws' || args.transport === 'wss') {
      options.protocol = args.transport;
      options.path = '/mqtt';
    }
    if (args.cafile) {
      options.ca = require('fs').readFileSync(args.cafile);
      options.servername = 'localhost';
    }
    if (opts.will) options.will = opts.will;
    if (this.v5 && opts.sessionExpiry !== undefined) {
      options.properties = { sessionExpiryInterval: opts.sessionExpiry };
    }
    this.c = mqtt.connect(options);
    this.c.on('message', (topic, payload, packet) => {
      const m = msg(topic, payload, packet.qos, packet.retain);
      const w = this.waiters.shift();
      if (w) w(m);
      else this.messages.push(m);
    });
    this.c.on('disconnect', (packet) => {
      this.disconnectPacket = packet;
    });
    this.closedPromise = new Promise((resolve) => {
      this.c.on('close', () => {
        this.closed = true;
        resolve();
      });
    });
    this.c.on('error', () => {}); // surfaced by the waits below
  }

  async ready() {
    this.connack = await within(
      new Promise((resolve, reject) => {
        this.c.once('connect', resolve);
        this.c.once('error', reject);
      }),
      WAIT,
      `${this.id}: CONNACK`,
    );
    return this;
  }

  get sessionPresent() {
    return Boolean(this.connack.sessionPresent);
  }

  async subscribe(topic, qos) {
    const granted = await within(this.c.subscribeAsync(topic, { qos }), WAIT, `${this.id}: SUBACK ${topic}`);
    check(granted.length === 1 && granted[0].qos === qos, `${this.id}: SUBACK for ${topic}: ${fmt(granted)}`);
  }

  async publish(topic, payload, qos, retain = false) {
    await within(
      this.c.publishAsync(topic, payload, { qos, retain }),
      WAIT,
      `${this.id}: publish ${topic} QoS ${qos}`,
    );
  }

  nextMessage(what, ms = WAIT) {
    if (this.messages.length > 0) return Promise.resolve(this.messages.shift());
    let waiter;
    const p = new Promise((resolve) => {
      waiter = resolve;
      this.waiters.push(resolve);
    });
    return within(p, ms, `${this.id}: message (${what})`).catch((e) => {
      this.waiters = this.waiters.filter((w) => w !== waiter);
      throw e;
    });
  }

  async collectUntil(topic, payload, what) {
    const want = Buffer.from(payload).toString('hex');
    const got = [];
    for (;;) {
      const m = await this.nextMessage(`${what}; got so far ${fmt(got)}`);
      got.push(m);
      if (m.topic === topic && m.payload === want) return got;
    }
  }

  // A clean DISCONNECT (optionally with an MQTT 5 reason code); waits for the close.
  async disconnect(reasonCode) {
    const opts = reasonCode === undefined ? {} : { reasonCode };
    await within(
      new Promise((resolve) => this.c.end(false, opts, resolve)),
      WAIT,
      `${this.id}: clean disconnect`,
    );
    await within(this.closedPromise, WAIT, `${this.id}: socket closed after DISCONNECT`);
  }

  // Drops the TCP connection without a DISCONNECT packet.
  kill() {
    this.c.stream.destroy();
  }

  waitClosed(what) {
    return within(this.closedPromise, WAIT, `${this.id}: ${what}`);
  }

  close() {
    this.c.end(true);
  }
}

async function connect(args, role, opts) {
  return new Client(args, role, opts).ready();
}

const eq = (got, want, what) => check(fmt(got) === fmt(want), `${what}: expected ${fmt(want)}, got ${fmt(got)}`);

const scenarios = {
  // QoS 0/1/2 round trip, exact payload bytes, each delivered exactly once at
  // min(published QoS, granted QoS) [MQTT-3.8.4-6], retain 0 on live delivery
  // [MQTT-3.3.1-9], per-topic order [MQTT-4.6.0-5], QoS 2 exactly once
  // [MQTT-4.3.3-2].
  async qos(args) {
    const base = `hornet/mqttjs/${UID}/qos`;
    const sub = await connect(args, 's');
    await sub.subscribe(`${base}/#`, 2);
    const pub = await connect(args, 'p');
    await qosRoundTrip(sub, pub, base, 'QoS round trip');
    sub.close();
    pub.close();
  },

  // Retained message stored and replaced [MQTT-3.3.1-5], sent to a new
  // subscriber with retain 1 [MQTT-3.3.1-8], live copies with retain 0
  // [MQTT-3.3.1-9], a zero-byte retained message delivered normally and
  // clearing the topic [MQTT-3.3.1-10], [MQTT-3.3.1-11].
  async retained(args) {
    const topic = `hornet/mqttjs/${UID}/ret/t`;
    const pub = await connect(args, 'p');
    await pub.publish(topic, 'one', 1, true);
    await pub.publish(topic, 'two', 1, true);

    const a = await connect(args, 'a');
    await a.subscribe(topic, 1);
    eq(await a.nextMessage('retained on subscribe'), msg(topic, 'two', 1, true), 'retained on subscribe');
    await pub.publish(topic, 'live', 1);
    eq(await a.nextMessage('live message'), msg(topic, 'live', 1, false), 'live message');

    await pub.publish(topic, '', 1, true);
    eq(await a.nextMessage('zero-byte retained'), msg(topic, '', 1, false), 'zero-byte retained to a live subscriber');

    const b = await connect(args, 'b');
    await b.subscribe(topic, 1);
    await pub.publish(topic, 'after-clear', 1);
    eq(
      await b.collectUntil(topic, 'after-clear', 'sentinel after clearing'),
      [msg(topic, 'after-clear', 1, false)],
      'a new subscriber after clearing',
    );
    for (const c of [pub, a, b]) c.close();
  },

  // Will published when the connection closes without DISCONNECT
  // [MQTT-3.1.2-8]; deleted on a clean DISCONNECT [MQTT-3.1.2-10],
  // [MQTT-3.14.4-3]; v5: DISCONNECT with reason 0x04 publishes it.
  async will(args) {
    const base = `hornet/mqttjs/${UID}/will`;
    const watcher = await connect(args, 'w');
    await watcher.subscribe(`${base}/#`, 1);

    const victim = await connect(args, 'k', {
      will: { topic: `${base}/killed`, payload: Buffer.from('killed-will'), qos: 1, retain: false },
    });
    victim.kill();
    eq(
      await watcher.nextMessage('will of the killed client'),
      msg(`${base}/killed`, 'killed-will', 1, false),
      'will after socket destroy',
    );

    // Clean DISCONNECT, then the same client id again (the broker is done with
    // the old connection before this CONNACK) publishes a marker.
    const cleanId = `${UID}c`;
    const clean = await connect(args, 'c', {
      clientId: cleanId,
      will: { topic: `${base}/clean`, payload: Buffer.from('must-not-arrive'), qos: 1, retain: false },
    });
    await clean.disconnect();
    const again = await connect(args, 'c', { clientId: cleanId });
    await again.publish(`${base}/marker`, 'marker', 1);
    eq(
      await watcher.collectUntil(`${base}/marker`, 'marker', 'marker after clean disconnect'),
      [msg(`${base}/marker`, 'marker', 1, false)],
      'a clean DISCONNECT must not publish the will',
    );
    await again.disconnect();

    if (args.protocol === '5') {
      const w4 = await connect(args, '4', {
        will: { topic: `${base}/rc4`, payload: Buffer.from('rc4-will'), qos: 1, retain: false },
      });
      await w4.disconnect(0x04);
      eq(
        await watcher.nextMessage('will after DISCONNECT 0x04'),
        msg(`${base}/rc4`, 'rc4-will', 1, false),
        'will after DISCONNECT 0x04',
      );
    }
    watcher.close();
  },

  // A client silent for 1.5 x keep-alive is disconnected [MQTT-3.1.2-24] and
  // its will published [MQTT-3.1.2-8]; not before one keep-alive period.
  async keepalive(args) {
    const keepalive = 2;
    const base = `hornet/mqttjs/${UID}/ka`;
    const watcher = await connect(args, 'w');
    await watcher.subscribe(`${base}/#`, 1);
    const silent = await connect(args, 'k', {
      keepalive,
      will: { topic: `${base}/will`, payload: Buffer.from('keepalive-will'), qos: 1, retain: false },
    });
    // No more PINGREQ from MQTT.js (and no client-side keep-alive timeout).
    silent.c.keepaliveManager.destroy();
    const start = Date.now();
    const m = await watcher.nextMessage('will of the silent client', (args.keepaliveLimit + 1) * 1000);
    const elapsed = (Date.now() - start) / 1000;
    console.log(`keep-alive ${keepalive}s: will after ${elapsed.toFixed(2)}s`);
    eq(m, msg(`${base}/will`, 'keepalive-will', 1, false), 'keep-alive will');
    check(elapsed >= keepalive, `disconnected after ${elapsed}s, before one keep-alive period`);
    check(elapsed <= args.keepaliveLimit, `will after ${elapsed}s, expected within ${args.keepaliveLimit}s`);
    await silent.waitClosed('closed by the broker');
    watcher.close();
  },

  // A persistent session keeps subscriptions and queues QoS 1 messages while
  // offline [MQTT-3.1.2-4], [MQTT-3.1.2-5]; session present 0 for a new
  // session, 1 for a resumed one [MQTT-3.2.2-2], [MQTT-3.2.2-3] (no such flag
  // in MQTT 3.1); v5: Session Expiry Interval keeps the session.
  async session(args) {
    const topic = `hornet/mqttjs/${UID}/sess/t`;
    const sid = `${UID}s`;
    const flag = args.protocol !== '3.1';
    const opts = { clientId: sid, clean: false, sessionExpiry: 300 };
    let s = await connect(args, 's', opts);
    check(!s.sessionPresent, 'first connection: session present should be 0');
    await s.subscribe(topic, 1);
    await s.disconnect();

    const pub = await connect(args, 'p');
    const payloads = [0, 1, 2].map((i) => `offline-${i}`);
    for (const p of payloads) await pub.publish(topic, p, 1);

    s = await connect(args, 's', opts);
    check(s.sessionPresent || !flag, 'resumed connection: session present should be 1');
    await pub.publish(topic, 'online', 1);
    eq(
      await s.collectUntil(topic, 'online', 'queued messages then the live one'),
      [...payloads, 'online'].map((p) => msg(topic, p, 1, false)),
      'queued messages',
    );
    await s.disconnect();

    s = await connect(args, 's', { clientId: sid, clean: true, sessionExpiry: 0 });
    check(!s.sessionPresent, 'clean session: session present should be 0 [MQTT-3.2.2-1]');
    await s.disconnect();
    pub.close();
  },

  // A second connection with the same client id disconnects the first
  // [MQTT-3.1.4-2]; the new one keeps working.
  async takeover(args) {
    const [first, second] = await takeover(args, 't');
    await second.disconnect();
    first.close();
  },

  // MQTT 5 only: the first connection receives DISCONNECT 0x8E Session taken
  // over (MQTT 5 section 3.1.4 step 2, section 3.14.2.1).
  async takeover_reason(args) {
    check(args.protocol === '5', 'takeover_reason is an MQTT 5 scenario');
    const [first, second] = await takeover(args, 'r');
    check(first.disconnectPacket !== null, 'expected a DISCONNECT packet before the close');
    check(
      first.disconnectPacket.reasonCode === 0x8e,
      `expected reason 0x8E, got ${fmt(first.disconnectPacket)}`,
    );
    await second.disconnect();
    first.close();
  },

  // Two nodes of a Hornet cluster: --port is node 1, --port2 node 2. A
  // subscriber on node 1 gets what a publisher on node 2 sends, QoS 0/1/2
  // each once and in order [MQTT-4.6.0-5], [MQTT-4.3.3-2] (its SUBACK comes
  // once every node has the route); a persistent session made on node 1
  // follows its client to node 2 with the messages queued meanwhile,
  // Session Present 1 [MQTT-3.1.2-4], [MQTT-3.2.2-2]; a CONNECT on node 2
  // takes over the client id connected on node 1 [MQTT-3.1.4-3] (MQTT 5:
  // DISCONNECT 0x8E).
  async cluster(args) {
    check(args.port2, 'the cluster scenario needs --port2');
    const base = `hornet/mqttjs/${UID}/cluster`;
    const sub = await connect(args, 's');
    await sub.subscribe(`${base}/live/#`, 2);
    const pub = await connect(args, 'p', { port: args.port2 });
    await qosRoundTrip(sub, pub, `${base}/live`, 'messages from node 2');
    sub.close();

    // A persistent session moves with its client.
    const topic = `${base}/moved`;
    const clientId = `${UID}m`;
    const sessionExpiry = args.protocol === '5' ? 300 : undefined;
    const flag = args.protocol !== '3.1';
    let m = await connect(args, 'm', { clientId, clean: false, sessionExpiry });
    await m.subscribe(topic, 1);
    await m.disconnect();
    const payloads = [0, 1, 2].map((i) => `queued-${i}`);
    for (const p of payloads) await pub.publish(topic, p, 1);
    m = await connect(args, 'm', { clientId, clean: false, sessionExpiry, port: args.port2 });
    check(m.sessionPresent || !flag, 'the session should have moved: session present 1');
    await pub.publish(topic, 'online', 1);
    eq(
      await m.collectUntil(topic, 'online', 'queued messages then the live one on node 2'),
      [...payloads, 'online'].map((p) => msg(topic, p, 1, false)),
      'moved session',
    );
    await m.disconnect();
    m = await connect(args, 'm', {
      clientId,
      clean: true,
      sessionExpiry: sessionExpiry === undefined ? undefined : 0,
      port: args.port2,
    });
    await m.disconnect();

    // A client id is cluster-wide.
    const tid = `${UID}t`;
    const first = await connect(args, 't', { clientId: tid });
    const second = await connect(args, 't', { clientId: tid, port: args.port2 });
    await first.waitClosed('the connection on node 1 closed after the takeover');
    if (args.protocol === '5') {
      check(
        first.disconnectPacket !== null && first.disconnectPacket.reasonCode === 0x8e,
        `expected DISCONNECT 0x8E on node 1, got ${fmt(first.disconnectPacket)}`,
      );
    }
    await second.subscribe(`${base}/take`, 1);
    await second.publish(`${base}/take`, 'still-here', 1);
    eq(await second.nextMessage('round trip on node 2 after the takeover'), msg(`${base}/take`, 'still-here', 1, false), 'round trip on node 2');
    check(!second.closed, 'the connection on node 2 was closed');
    await second.disconnect();
    first.close();
    pub.close();
  },
};

// `pub` sends a random payload then 'end' on `base`/q0, q1 and q2 at that
// QoS; `sub` (subscribed to `base`/# at QoS 2) must get each once, in order
// per topic, at that QoS, retain 0.
async function qosRoundTrip(sub, pub, base, what) {
  const sent = {};
  for (const q of [0, 1, 2]) {
    sent[q] = Buffer.concat([Buffer.from([q, 0, 255]), crypto.randomBytes(32), Buffer.from(`qos${q}`)]);
    await pub.publish(`${base}/q${q}`, sent[q], q);
    await pub.publish(`${base}/q${q}`, 'end', q);
  }
  const got = [];
  let ends = 0;
  const end = Buffer.from('end').toString('hex');
  while (ends < 3) {
    const m = await sub.nextMessage(`${what}; got so far ${fmt(got)}`);
    got.push(m);
    if (m.payload === end) ends += 1;
  }
  for (const q of [0, 1, 2]) {
    const topic = `${base}/q${q}`;
    eq(
      got.filter((m) => m.topic === topic),
      [msg(topic, sent[q], q, false), msg(topic, 'end', q, false)],
      `${what}, QoS ${q}`,
    );
  }
  check(got.length === 6, `expected 6 messages, got ${fmt(got)}`);
}

async function takeover(args, role) {
  const topic = `hornet/mqttjs/${UID}/take/t`;
  const clientId = `${UID}${role}`;
  const first = await connect(args, role, { clientId });
  const second = await connect(args, role, { clientId });
  await first.waitClosed('first connection closed after takeover');
  check(!second.sessionPresent, 'clean takeover: session present should be 0');
  await second.subscribe(topic, 1);
  await second.publish(topic, 'still-here', 1);
  eq(await second.nextMessage('round trip on the new connection'), msg(topic, 'still-here', 1, false), 'round trip');
  check(!second.closed, 'the new connection was closed');
  return [first, second];
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv);
  } catch (e) {
    console.log(`FAIL arguments: ${e.message}`);
    process.exit(1);
  }
  setTimeout(() => {
    console.log(`FAIL ${args.scenario}: hard timeout of ${HARD_TIMEOUT} ms`);
    process.exit(2);
  }, HARD_TIMEOUT).unref();
  const scenario = scenarios[args.scenario];
  if (!scenario) {
    console.log(`FAIL ${args.scenario}: no such scenario (${Object.keys(scenarios).join(', ')})`);
    process.exit(1);
  }
  try {
    await scenario(args);
  } catch (e) {
    console.log(`FAIL ${args.scenario} (MQTT ${args.protocol}): ${e instanceof Failure ? e.message : e.stack}`);
    process.exit(1);
  }
  console.log(`OK ${args.scenario}`);
  process.exit(0);
}

main();
