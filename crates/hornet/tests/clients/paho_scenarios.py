#!/usr/bin/env python3
"""Eclipse Paho (paho-mqtt 2.x) scenarios against a broker, driven by
crates/hornet/tests/paho.rs.

    paho_scenarios.py --port N --scenario NAME --protocol {3.1,3.1.1,5}
                      [--transport websockets [--ws-path /mqtt]] [--cafile CA.pem]

Each scenario checks itself, prints `OK <scenario>` and exits 0, or prints
`FAIL <scenario>: <why>` and exits 1. The whole run is bounded by a hard
timeout (exit 2). Nothing sleeps for a guessed time: every wait is on an
event (CONNACK, SUBACK, a message, a disconnect) bounded by WAIT seconds, and
absence is proven with a sentinel message published after the one that must
not arrive (MQTT requires per-topic ordering for one publisher at one QoS,
[MQTT-4.6.0-5]).

Each client runs its own network-loop thread around `Client.loop()` (which,
unlike `loop_start()`, never reconnects), so a scenario can stop a client's
loop to make it go silent, or drop its socket without a DISCONNECT.
"""

import argparse
import os
import queue
import signal
import socket
import sys
import threading
import time

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.reasoncodes import ReasonCode
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f"FAIL import: paho-mqtt 2.x is missing ({e}); install it with "
          "`python3 -m pip install paho-mqtt`", flush=True)
    sys.exit(3)

WAIT = 10.0
HARD_TIMEOUT = 25
HOST = "127.0.0.1"
PROTOCOLS = {"3.1": mqtt.MQTTv31, "3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}

# Unique per run: client ids (at most 23 characters, as MQTT 3.1 requires)
# and topics never collide with other tests sharing the broker.
UID = "pa" + os.urandom(5).hex()


class Failure(Exception):
    """A scenario's expectation did not hold."""


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class Client:
    """A paho client with its own loop thread and event-based waits."""

    def __init__(self, args, role, *, client_id=None, will=None, clean=True,
                 session_expiry=None, keepalive=30, expect_connected=True,
                 username=None, password=None, port=None):
        self.args = args
        self.v5 = args.protocol == "5"
        self.id = client_id or f"{UID}{role}"
        kwargs = {
            "callback_api_version": mqtt.CallbackAPIVersion.VERSION2,
            "client_id": self.id,
            "protocol": PROTOCOLS[args.protocol],
        }
        if not self.v5:
            kwargs["clean_session"] = clean
        if args.transport == "websockets":
            kwargs["transport"] = "websockets"
        self.c = mqtt.Client(**kwargs)
        if args.transport == "websockets":
            self.c.ws_set_options(path=args.ws_path)
            # Without a loop_start() thread, paho writes a new packet from the
            # calling thread while our loop thread writes too; its WebSocket
            # wrapper is not thread safe and then sends a packet twice (seen:
            # SUBSCRIBE m1 twice). With a write callback registered, paho
            # leaves all writing to the loop thread (woken via its socket pair).
            self.c.on_socket_register_write = lambda client, userdata, sock: None
        if args.cafile:
            self.c.tls_set(ca_certs=args.cafile)
        self.connected = threading.Event()
        self.connack = None
        self.disconnected = threading.Event()
        self.disconnect_reason = None
        self.disconnect_from_server = None
        self.messages = queue.Queue()
        self.subacks = {}
        self.suback_cond = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe
        if will is not None:
            topic, payload, qos, retain = will
            self.c.will_set(topic, payload, qos, retain)
        if username is not None:
            self.c.username_pw_set(username, password)
        self._stop = threading.Event()
        self._thread = None
        connect_kwargs = {}
        if self.v5:
            connect_kwargs["clean_start"] = clean
            if session_expiry is not None:
                props = Properties(PacketTypes.CONNECT)
                props.SessionExpiryInterval = session_expiry
                connect_kwargs["properties"] = props
        self.c.connect(HOST, port or args.port, keepalive, **connect_kwargs)
        self.start_loop()
        check(self.connected.wait(WAIT), f"{self.id}: no CONNACK within {WAIT}s")
        if expect_connected:
            flags, rc = self.connack
            check(not rc.is_failure, f"{self.id}: connection refused: {rc}")

    # Callbacks (run on the loop thread).
    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.connack = (flags, reason_code)
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self.disconnect_reason = reason_code
        self.disconnect_from_server = flags.is_disconnect_packet_from_server
        self.disconnected.set()

    def _on_message(self, client, userdata, msg):
        self.messages.put((msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain)))

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.suback_cond:
            self.subacks[mid] = reason_codes
            self.suback_cond.notify_all()

    # The network loop.
    def _run(self):
        while not self._stop.is_set():
            if self.c.loop(0.1) != mqtt.MQTT_ERR_SUCCESS:
                break

    def start_loop(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop_loop(self):
        """Stops the network loop: the client goes silent (no PINGREQ)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(WAIT)
            check(not self._thread.is_alive(), f"{self.id}: loop thread did not stop")
            self._thread = None

    @property
    def session_present(self):
        return bool(self.connack[0].session_present)

    # Requests.
    def subscribe_codes(self, topic, qos):
        """Subscribes and returns the SUBACK's reason codes, unchecked."""
        rc, mid = self.c.subscribe(topic, qos)
        check(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.id}: subscribe failed: {rc}")
        deadline = time.monotonic() + WAIT
        with self.suback_cond:
            while mid not in self.subacks:
                left = deadline - time.monotonic()
                check(left > 0, f"{self.id}: no SUBACK for {topic} within {WAIT}s")
                self.suback_cond.wait(left)
            return self.subacks[mid]

    def subscribe(self, topic, qos):
        rc, mid = self.c.subscribe(topic, qos)
        check(rc == mqtt.MQTT_ERR_SUCCESS, f"{self.id}: subscribe failed: {rc}")
        deadline = time.monotonic() + WAIT
        with self.suback_cond:
            while mid not in self.subacks:
                left = deadline - time.monotonic()
                check(left > 0, f"{self.id}: no SUBACK for {topic} within {WAIT}s")
                self.suback_cond.wait(left)
            codes = self.subacks[mid]
        check(len(codes) == 1 and not codes[0].is_failure and codes[0].value == qos,
              f"{self.id}: SUBACK for {topic} at QoS {qos}: {codes}")

    def publish(self, topic, payload, qos, retain=False):
        info = self.c.publish(topic, payload, qos, retain)
        check(info.rc == mqtt.MQTT_ERR_SUCCESS, f"{self.id}: publish failed: {info.rc}")
        info.wait_for_publish(WAIT)
        check(info.is_published(), f"{self.id}: publish {topic} QoS {qos} not completed within {WAIT}s")

    def next_message(self, what, wait=WAIT):
        try:
            return self.messages.get(timeout=wait)
        except queue.Empty:
            raise Failure(f"{self.id}: no message ({what}) within {wait}s") from None

    def collect_until(self, topic, payload, what):
        """Messages up to and including the one on `topic` with `payload`."""
        got = []
        while True:
            m = self.next_message(f"{what}; got so far {got}")
            got.append(m)
            if m[0] == topic and m[1] == payload:
                return got

    def disconnect(self, reasoncode=None):
        """A clean DISCONNECT; waits until paho reports it sent and closed."""
        if reasoncode is None:
            self.c.disconnect()
        else:
            self.c.disconnect(reasoncode=reasoncode)
        check(self.disconnected.wait(WAIT), f"{self.id}: disconnect not completed within {WAIT}s")
        self.stop_loop()

    def kill_socket(self):
        """Drops the TCP connection without a DISCONNECT packet."""
        self.stop_loop()
        sock = self.c.socket()
        check(sock is not None, f"{self.id}: no socket to kill")
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def close(self):
        """Best-effort teardown at the end of a scenario."""
        self._stop.set()
        try:
            sock = self.c.socket()
            if sock is not None:
                sock.close()
        except Exception:  # noqa: BLE001 - teardown only
            pass


# Scenarios. Each takes the parsed args and raises Failure on a mismatch.

def scenario_qos(args):
    """QoS 0/1/2 round trip, exact payload bytes, each delivered exactly once
    at min(published QoS, granted QoS) [MQTT-3.8.4-6], retain flag 0 on live
    delivery [MQTT-3.3.1-9], per-topic order [MQTT-4.6.0-5], QoS 2 exactly
    once [MQTT-4.3.3-2]."""
    base = f"hornet/paho/{UID}/qos"
    sub = Client(args, "s")
    sub.subscribe(f"{base}/#", 2)
    pub = Client(args, "p")
    qos_round_trip(sub, pub, base, "QoS round trip")
    sub.close()
    pub.close()


def qos_round_trip(sub, pub, base, what):
    """`pub` sends a random payload then "end" on `base`/q0, q1 and q2 at
    that QoS; `sub` (subscribed to `base`/# at QoS 2) must get each once,
    in order per topic, at that QoS, retain 0."""
    sent = {}
    for q in (0, 1, 2):
        payload = bytes([q, 0, 255]) + os.urandom(32) + f"qos{q}".encode()
        sent[q] = payload
        pub.publish(f"{base}/q{q}", payload, q)
        pub.publish(f"{base}/q{q}", b"end", q)
    got = []
    ends = 0
    while ends < 3:
        m = sub.next_message(f"{what}; got so far {got}")
        got.append(m)
        if m[1] == b"end":
            ends += 1
    for q in (0, 1, 2):
        topic = f"{base}/q{q}"
        mine = [m for m in got if m[0] == topic]
        want = [(topic, sent[q], q, False), (topic, b"end", q, False)]
        check(mine == want, f"{what}, QoS {q}: expected {want}, got {mine}")
    check(len(got) == 6, f"expected 6 messages, got {got}")


def scenario_retained(args):
    """Retained message stored and replaced [MQTT-3.3.1-5], sent to a new
    subscriber with retain=1 [MQTT-3.3.1-8], live copies with retain=0
    [MQTT-3.3.1-9], a zero-byte retained message delivered normally and
    clearing the topic [MQTT-3.3.1-10], [MQTT-3.3.1-11]."""
    base = f"hornet/paho/{UID}/ret"
    topic = f"{base}/t"
    pub = Client(args, "p")
    pub.publish(topic, b"one", 1, retain=True)
    pub.publish(topic, b"two", 1, retain=True)

    a = Client(args, "a")
    a.subscribe(topic, 1)
    m = a.next_message("retained message on subscribe")
    check(m == (topic, b"two", 1, True), f"retained on subscribe: expected 'two' with retain=1, got {m}")
    pub.publish(topic, b"live", 1)
    m = a.next_message("live message")
    check(m == (topic, b"live", 1, False), f"live message: expected retain=0, got {m}")

    pub.publish(topic, b"", 1, retain=True)
    m = a.next_message("zero-byte retained message")
    check(m == (topic, b"", 1, False), f"zero-byte retained message to a live subscriber: got {m}")

    b = Client(args, "b")
    b.subscribe(topic, 1)
    pub.publish(topic, b"after-clear", 1)
    got = b.collect_until(topic, b"after-clear", "sentinel after clearing")
    check(got == [(topic, b"after-clear", 1, False)],
          f"retained message not cleared: a new subscriber got {got}")
    for c in (pub, a, b):
        c.close()


def scenario_will(args):
    """Will published when the network connection closes without DISCONNECT
    [MQTT-3.1.2-8]; deleted on a clean DISCONNECT and not published
    [MQTT-3.1.2-10], [MQTT-3.14.4-3]; v5: DISCONNECT with reason 0x04
    publishes it (MQTT 5 section 3.14.2.1)."""
    base = f"hornet/paho/{UID}/will"
    watcher = Client(args, "w")
    watcher.subscribe(f"{base}/#", 1)

    # 1. Socket dropped without DISCONNECT: the will arrives.
    victim = Client(args, "k", will=(f"{base}/killed", b"killed-will", 1, False))
    victim.kill_socket()
    m = watcher.next_message("will of the killed client")
    check(m == (f"{base}/killed", b"killed-will", 1, False), f"will after socket kill: got {m}")

    # 2. Clean DISCONNECT: no will. Proof of absence: reconnect with the same
    # client id (so the broker is done with the old connection: it either
    # took it over or had closed it, publishing any will before this CONNACK)
    # and publish a marker through the new connection.
    clean_id = f"{UID}c"
    clean = Client(args, "c", client_id=clean_id,
                   will=(f"{base}/clean", b"must-not-arrive", 1, False))
    clean.disconnect()
    again = Client(args, "c", client_id=clean_id)
    again.publish(f"{base}/marker", b"marker", 1)
    got = watcher.collect_until(f"{base}/marker", b"marker", "marker after clean disconnect")
    check(got == [(f"{base}/marker", b"marker", 1, False)],
          f"a clean DISCONNECT published the will: {got}")
    again.disconnect()

    # 3. MQTT 5: DISCONNECT with reason code 0x04 (Disconnect with Will Message).
    if args.protocol == "5":
        w4 = Client(args, "4", will=(f"{base}/rc4", b"rc4-will", 1, False))
        w4.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=0x04))
        m = watcher.next_message("will after DISCONNECT 0x04")
        check(m == (f"{base}/rc4", b"rc4-will", 1, False), f"will after DISCONNECT 0x04: got {m}")
    watcher.close()


def scenario_keepalive(args):
    """A client silent for one and a half keep-alive periods is disconnected
    [MQTT-3.1.2-24] and its will published [MQTT-3.1.2-8]; not before one
    keep-alive period has passed. The upper bound comes from the test
    (`--keepalive-limit`): the broker's timer granularity differs."""
    keepalive = 2
    base = f"hornet/paho/{UID}/ka"
    watcher = Client(args, "w")
    watcher.subscribe(f"{base}/#", 1)
    silent = Client(args, "k", keepalive=keepalive,
                    will=(f"{base}/will", b"keepalive-will", 1, False))
    silent.stop_loop()
    start = time.monotonic()
    m = watcher.next_message("will of the silent client", wait=args.keepalive_limit + 1.0)
    elapsed = time.monotonic() - start
    print(f"keep-alive {keepalive}s: will after {elapsed:.2f}s", flush=True)
    check(m == (f"{base}/will", b"keepalive-will", 1, False), f"keep-alive will: got {m}")
    check(elapsed >= keepalive,
          f"disconnected after {elapsed:.2f}s, before one keep-alive period ({keepalive}s)")
    check(elapsed <= args.keepalive_limit,
          f"will after {elapsed:.2f}s, expected within {args.keepalive_limit:.1f}s")
    silent.close()
    watcher.close()


def scenario_session(args):
    """A persistent session keeps subscriptions and queues QoS 1 messages
    while the client is offline [MQTT-3.1.2-4], [MQTT-3.1.2-5]; CONNACK
    session present is 0 for a new session and 1 for a resumed one
    [MQTT-3.2.2-2], [MQTT-3.2.2-3]; v5: Session Expiry Interval keeps it
    (MQTT 5 section 3.1.2.11.2)."""
    base = f"hornet/paho/{UID}/sess"
    topic = f"{base}/t"
    sid = f"{UID}s"
    expiry = 300 if args.protocol == "5" else None
    # MQTT 3.1 has no session present flag (its CONNACK byte 1 is reserved).
    flag = args.protocol != "3.1"
    s = Client(args, "s", client_id=sid, clean=False, session_expiry=expiry)
    check(not s.session_present, "first connection: session present should be 0")
    s.subscribe(topic, 1)
    s.disconnect()

    pub = Client(args, "p")
    payloads = [f"offline-{i}".encode() for i in range(3)]
    for p in payloads:
        pub.publish(topic, p, 1)

    s = Client(args, "s", client_id=sid, clean=False, session_expiry=expiry)
    check(s.session_present or not flag, "resumed connection: session present should be 1")
    pub.publish(topic, b"online", 1)
    got = s.collect_until(topic, b"online", "queued messages then the live one")
    want = [(topic, p, 1, False) for p in payloads] + [(topic, b"online", 1, False)]
    check(got == want, f"queued messages: expected {want}, got {got}")
    s.disconnect()

    # Clean up: a clean session discards the stored one.
    s = Client(args, "s", client_id=sid, clean=True, session_expiry=0 if expiry else None)
    check(not s.session_present, "clean session: session present should be 0 [MQTT-3.2.2-1]")
    s.disconnect()
    pub.close()


def scenario_takeover(args):
    """A second connection with the same client id disconnects the first
    [MQTT-3.1.4-2]; the new connection keeps working and is not disturbed."""
    first, second = takeover(args, "t")
    second.disconnect()
    first.close()


def scenario_takeover_reason(args):
    """MQTT 5 only: on takeover the first connection receives DISCONNECT
    with reason code 0x8E Session taken over (MQTT 5 section 3.1.4 step 2,
    section 3.14.2.1) before it is closed."""
    check(args.protocol == "5", "takeover_reason is an MQTT 5 scenario")
    first, second = takeover(args, "r")
    check(first.disconnect_from_server,
          f"expected a DISCONNECT packet, got a closed socket ({first.disconnect_reason})")
    check(first.disconnect_reason.value == 0x8E,
          f"expected reason 0x8E, got {first.disconnect_reason} "
          f"(0x{first.disconnect_reason.value:02X})")
    second.disconnect()
    first.close()


def takeover(args, role):
    base = f"hornet/paho/{UID}/take"
    tid = f"{UID}{role}"
    first = Client(args, role, client_id=tid)
    second = Client(args, role, client_id=tid)
    check(first.disconnected.wait(WAIT), f"first connection not disconnected within {WAIT}s")
    check(not second.session_present, "clean takeover: session present should be 0")
    second.subscribe(f"{base}/t", 1)
    second.publish(f"{base}/t", b"still-here", 1)
    m = second.next_message("round trip on the new connection")
    check(m == (f"{base}/t", b"still-here", 1, False), f"new connection round trip: got {m}")
    check(not second.disconnected.is_set(),
          f"the new connection was disconnected: {second.disconnect_reason}")
    return first, second


def scenario_acl(args):
    """Users from a mosquitto_passwd file and an acl_file (users alice,
    bob, admin with password NAME-pw; see paho.rs): a wrong password is
    refused (0x86 / 3.x 0x04); a SUBSCRIBE outside alice's rules is refused
    (0x87 / 3.1.1 0x80) while her own filter is granted; bob's PUBLISH to
    alice's topic is acknowledged but not delivered (a sentinel from admin
    arrives first)."""
    base = "alice"
    bad = Client(args, "x", username="alice", password="wrong", expect_connected=False)
    _flags, rc = bad.connack
    check(rc.is_failure and rc.value in (0x86, 0x04, 4),
          f"wrong password: expected 0x86 (3.x: 4), got {rc} ({rc.value})")
    bad.close()
    alice = Client(args, "a", username="alice", password="alice-pw")
    codes = alice.subscribe_codes(f"{base}/#", 1)
    check(len(codes) == 1 and not codes[0].is_failure, f"alice/#: {codes}")
    codes = alice.subscribe_codes("admin/#", 1)
    check(len(codes) == 1 and codes[0].is_failure and codes[0].value in (0x87, 0x80),
          f"admin/# must be refused with 0x87 (3.1.1: 0x80), got {codes}")
    bob = Client(args, "b", username="bob", password="bob-pw")
    bob.publish(f"{base}/x", b"from-bob", 1)
    admin = Client(args, "m", username="admin", password="admin-pw")
    admin.publish(f"{base}/x", b"sentinel", 1)
    m = alice.next_message("the sentinel")
    check(m[:2] == (f"{base}/x", b"sentinel"), f"bob's denied message was delivered: {m}")
    for c in (alice, bob, admin):
        c.disconnect()


def scenario_cluster(args):
    """Two nodes of a Hornet cluster: --port is node 1, --port2 node 2.
    A subscriber on node 1 gets what a publisher on node 2 sends, QoS 0/1/2
    each once and in order [MQTT-4.6.0-5], [MQTT-4.3.3-2] (its SUBACK comes
    once every node has the route, so no wait is needed); a persistent
    session made on node 1 follows its client to node 2 with the messages
    queued for it meanwhile, Session Present 1 [MQTT-3.1.2-4],
    [MQTT-3.2.2-2]; a CONNECT on node 2 takes over the client id connected
    on node 1 [MQTT-3.1.4-3] (MQTT 5: DISCONNECT 0x8E)."""
    check(args.port2, "the cluster scenario needs --port2")
    base = f"hornet/paho/{UID}/cluster"
    # Across nodes, live.
    sub = Client(args, "s")
    sub.subscribe(f"{base}/live/#", 2)
    pub = Client(args, "p", port=args.port2)
    qos_round_trip(sub, pub, f"{base}/live", "messages from node 2")
    sub.close()

    # A persistent session moves with its client.
    topic = f"{base}/moved"
    sid = f"{UID}m"
    expiry = 300 if args.protocol == "5" else None
    flag = args.protocol != "3.1"
    m = Client(args, "m", client_id=sid, clean=False, session_expiry=expiry)
    m.subscribe(topic, 1)
    m.disconnect()
    payloads = [f"queued-{i}".encode() for i in range(3)]
    for p in payloads:
        pub.publish(topic, p, 1)
    m = Client(args, "m", client_id=sid, clean=False, session_expiry=expiry, port=args.port2)
    check(m.session_present or not flag, "the session should have moved: session present 1")
    pub.publish(topic, b"online", 1)
    got = m.collect_until(topic, b"online", "queued messages then the live one on node 2")
    want = [(topic, p, 1, False) for p in payloads] + [(topic, b"online", 1, False)]
    check(got == want, f"moved session: expected {want}, got {got}")
    m.disconnect()
    m = Client(args, "m", client_id=sid, clean=True,
               session_expiry=0 if expiry else None, port=args.port2)
    m.disconnect()

    # A client id is cluster-wide.
    tid = f"{UID}t"
    first = Client(args, "t", client_id=tid)
    second = Client(args, "t", client_id=tid, port=args.port2)
    check(first.disconnected.wait(WAIT),
          f"the connection on node 1 was not taken over within {WAIT}s")
    if args.protocol == "5":
        check(first.disconnect_from_server and first.disconnect_reason.value == 0x8E,
              f"expected DISCONNECT 0x8E on node 1, got {first.disconnect_reason}")
    second.subscribe(f"{base}/take", 1)
    second.publish(f"{base}/take", b"still-here", 1)
    got = second.next_message("round trip on node 2 after the takeover")
    check(got == (f"{base}/take", b"still-here", 1, False), f"round trip on node 2: got {got}")
    check(not second.disconnected.is_set(),
          f"the connection on node 2 was disconnected: {second.disconnect_reason}")
    second.disconnect()
    first.close()
    pub.close()


SCENARIOS = {
    "acl": scenario_acl,
    "cluster": scenario_cluster,
    "qos": scenario_qos,
    "retained": scenario_retained,
    "will": scenario_will,
    "keepalive": scenario_keepalive,
    "session": scenario_session,
    "takeover": scenario_takeover,
    "takeover_reason": scenario_takeover_reason,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port2", type=int, default=None,
                        help="cluster scenario: the port of a second node")
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), required=True)
    parser.add_argument("--transport", choices=["tcp", "websockets"], default="tcp")
    parser.add_argument("--ws-path", default="/mqtt")
    parser.add_argument("--cafile", default=None,
                        help="use TLS, trusting this CA file (PEM)")
    parser.add_argument("--keepalive-limit", type=float, default=5.0,
                        help="keepalive scenario: latest acceptable will, in seconds")
    args = parser.parse_args()

    def hard_timeout(signum, frame):
        print(f"FAIL {args.scenario}: hard timeout of {HARD_TIMEOUT}s", flush=True)
        os._exit(2)

    signal.signal(signal.SIGALRM, hard_timeout)
    signal.alarm(HARD_TIMEOUT)
    try:
        SCENARIOS[args.scenario](args)
    except Failure as e:
        print(f"FAIL {args.scenario} (MQTT {args.protocol}): {e}", flush=True)
        os._exit(1)
    except Exception as e:  # noqa: BLE001 - any error fails the scenario
        print(f"FAIL {args.scenario} (MQTT {args.protocol}): {type(e).__name__}: {e}", flush=True)
        os._exit(1)
    print(f"OK {args.scenario}", flush=True)
    # os._exit: do not wait for daemon loop threads or lingering sockets.
    os._exit(0)


if __name__ == "__main__":
    main()
