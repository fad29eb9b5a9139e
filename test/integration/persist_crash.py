"""
Crash test for durable persistence, shared by 10-persist-crash-qos1.py and -qos2.py.

A broker with `persistence true` is killed with SIGKILL at seeded random moments while a
publisher pipelines QoS 1 or QoS 2 messages at it, and restarted on the same directory each
time. A persistent subscriber (clean session 0, subscribed once, before the first kill) is
online in some rounds and offline in others, so the kills land on queued messages, on in-flight
ones and on QoS 2 flows in every phase. Both clients keep their MQTT session state across the
kills as real clients do: the publisher resends unacknowledged PUBLISHes with DUP and pending
PUBRELs on reconnect; the subscriber remembers inbound QoS 2 ids until PUBREL (method B), so a
message it hands to the application twice is a real duplicate.

Checked at the end: every message whose PUBACK (QoS 1) or PUBREC (QoS 2: the broker owns it from
then on, so this is stricter than PUBCOMP) reached the publisher was delivered to the subscriber;
for QoS 2 none twice; no message the publisher never sent; the retained message and the
subscription (no SUBSCRIBE after the first round) survived every kill.

Seeded by TERN_CRASH_SEED (default fixed); the seed is printed so a failure can be replayed.
"""

import os
import random
import select
import signal
import socket
import struct
import time

import tern_test as t
from tern_test import check, note

ROUNDS = 6
WINDOW = 64               # publisher's messages in flight
ROUND_LOAD = (0.05, 0.35) # seconds of load before the kill
DRAIN_TIMEOUT = 10.0      # seconds without any packet for the subscriber ends the drain
DRAIN_CAP = 120.0         # bound on the whole drain (tens of thousands of queued QoS 2
                          # messages under ASan on a loaded machine take well over 10 s)


class Conn:
    """A non-blocking raw MQTT client: send bytes, poll for whole packets."""

    def __init__(self, port, client_id, clean):
        self.s = socket.create_connection((t.HOST, port), timeout=3)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.out = b""
        self.dead = False
        self.s.sendall(t.enc_connect(client_id, clean=clean, keepalive=60))
        deadline = time.monotonic() + 3
        while True:
            pk = self.poll(0.2)
            if pk:
                check(pk[0][0] >> 4 == t.CONNACK and pk[0][1][1] == 0,
                      "CONNACK refused for %s: %r" % (client_id, pk[0]))
                self.pending = pk[1:]
                self.session_present = pk[0][1][0] & 1
                break
            check(time.monotonic() < deadline and not self.dead, "no CONNACK for " + client_id)
        self.s.setblocking(False)

    def send(self, data):
        self.out += data
        self.flush()

    def flush(self):
        while self.out and not self.dead:
            try:
                n = self.s.send(self.out)
                self.out = self.out[n:]
            except BlockingIOError:
                return
            except OSError:
                self.dead = True

    def poll(self, timeout):
        """Returns the whole packets received within timeout, as (first_byte, body)."""
        if self.dead:
            return []
        try:
            r, _, _ = select.select([self.s], [], [], timeout)
            if r:
                data = self.s.recv(1 << 20)
                if not data:
                    self.dead = True
                self.buf += data
        except OSError:
            self.dead = True
        out = []
        while len(self.buf) >= 2:
            mult, n, i = 1, 0, 1
            while True:
                if i >= len(self.buf):
                    return out
                b = self.buf[i]
                n += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if len(self.buf) < i + n:
                break
            out.append((self.buf[0], self.buf[i:i + n]))
            self.buf = self.buf[i + n:]
        return out

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Publisher:
    """Publishes "crash/<seq>" with payload b"<seq>", keeping session state across kills."""

    def __init__(self, qos):
        self.qos = qos
        self.next_seq = 0
        self.next_pid = 0
        self.unacked = {}      # pid -> seq: PUBLISH sent, no PUBACK/PUBREC yet
        self.wait_comp = {}    # pid -> seq: PUBREC received, PUBCOMP not yet (QoS 2)
        self.acked = set()     # seqs the broker acknowledged (PUBACK, PUBREC)
        self.sent = set()
        self.c = None

    def pub_packet(self, pid, seq, dup):
        return t.enc_publish("crash/%d" % seq, b"%d" % seq, qos=self.qos, dup=dup, pid=pid)

    def connect(self, port):
        self.c = Conn(port, "crash-pub", clean=False)
        for pid, seq in sorted(self.unacked.items()):
            self.c.send(self.pub_packet(pid, seq, True))
        for pid in sorted(self.wait_comp):
            self.c.send(t.enc_ack(t.PUBREL, pid))
        self.handle(self.c.pending)

    def alloc_pid(self):
        while True:
            self.next_pid = self.next_pid % 65535 + 1
            if self.next_pid not in self.unacked and self.next_pid not in self.wait_comp:
                return self.next_pid

    def pump(self):
        while len(self.unacked) + len(self.wait_comp) < WINDOW and not self.c.dead:
            pid = self.alloc_pid()
            seq = self.next_seq
            self.next_seq += 1
            self.unacked[pid] = seq
            self.sent.add(seq)
            self.c.send(self.pub_packet(pid, seq, False))
        self.handle(self.c.poll(0.002))

    def handle(self, packets):
        for first, body in packets:
            typ = first >> 4
            pid = struct.unpack("!H", body[:2])[0]
            if typ == t.PUBACK and pid in self.unacked:
                self.acked.add(self.unacked.pop(pid))
            elif typ == t.PUBREC and pid in self.unacked:
                seq = self.unacked.pop(pid)
                self.acked.add(seq)
                self.wait_comp[pid] = seq
                self.c.send(t.enc_ack(t.PUBREL, pid))
            elif typ == t.PUBREC and pid in self.wait_comp:
                self.c.send(t.enc_ack(t.PUBREL, pid))
            elif typ == t.PUBCOMP:
                self.wait_comp.pop(pid, None)


class Subscriber:
    """The persistent subscriber; counts application deliveries per seq."""

    def __init__(self, qos):
        self.qos = qos
        self.delivered = {}    # seq -> times handed to the application
        self.in_qos2 = set()   # inbound QoS 2 ids awaiting PUBREL (client session state)
        self.retained_seen = False
        self.c = None
        self.last_rx = time.monotonic()

    def connect(self, port, subscribe=False):
        self.c = Conn(port, "crash-sub", clean=False)
        if subscribe:
            self.c.send(t.enc_subscribe(1, [("crash/#", self.qos)]))
            deadline = time.monotonic() + 3
            while not any(p[0] >> 4 == t.SUBACK for p in self.c.pending):
                check(time.monotonic() < deadline, "no SUBACK")
                self.c.pending += self.c.poll(0.05)
        else:
            check(self.c.session_present == 1,
                  "the persistent subscriber's session did not survive the kill")
        self.handle(self.c.pending)

    def pump(self, timeout=0.002):
        self.handle(self.c.poll(timeout))

    def handle(self, packets):
        for first, body in packets:
            typ = first >> 4
            if typ == t.PUBLISH:
                self.last_rx = time.monotonic()
                qos = (first >> 1) & 3
                tl = struct.unpack("!H", body[:2])[0]
                topic = body[2:2 + tl].decode()
                off = 2 + tl
                pid = None
                if qos:
                    pid = struct.unpack("!H", body[off:off + 2])[0]
                    off += 2
                payload = body[off:]
                if topic.startswith("keep/"):
                    self.retained_seen = True
                    continue
                check(topic == "crash/" + payload.decode(),
                      "payload %r does not match topic %s" % (payload, topic))
                seq = int(payload)
                if qos == 2:
                    if pid not in self.in_qos2:
                        self.in_qos2.add(pid)
                        self.delivered[seq] = self.delivered.get(seq, 0) + 1
                    self.c.send(t.enc_ack(t.PUBREC, pid))
                else:
                    self.delivered[seq] = self.delivered.get(seq, 0) + 1
                    if qos == 1:
                        self.c.send(t.enc_ack(t.PUBACK, pid))
            elif typ == t.PUBREL:
                pid = struct.unpack("!H", body[:2])[0]
                self.in_qos2.discard(pid)
                self.c.send(t.enc_ack(t.PUBCOMP, pid))


def start_round(b, n):
    b.log_path = os.path.join(b.dir, "broker-%d.log" % n)
    b.stopped = False
    b.returncode = None
    b.start()


def kill(b):
    b.proc.send_signal(signal.SIGKILL)
    b.proc.wait(5)
    b.logf.close()


def run(qos):
    seed = int(os.environ.get("TERN_CRASH_SEED", "20261126")) + qos
    rng = random.Random(seed)
    note("seed %d (set TERN_CRASH_SEED to replay)" % (seed - qos))
    b = t.Broker(extra=[])
    with open(b.conf_path, "a") as f:
        f.write("persistence true\npersistence_location %s/db\nmax_queued_messages 0\n"
                "max_inflight_messages 20\n" % b.dir)
    pub = Publisher(qos)
    sub = Subscriber(qos)
    try:
        for rnd in range(ROUNDS):
            start_round(b, rnd)
            sub_online = rnd == 0 or rng.random() < 0.5
            if sub_online:
                sub.connect(b.port, subscribe=rnd == 0)
            if rnd == 0:
                keep = Conn(b.port, "crash-keep", clean=True)
                keep.s.setblocking(True)
                keep.s.sendall(t.enc_publish("keep/r", b"kept", qos=1, retain=True, pid=1))
                deadline = time.monotonic() + 3
                got = []
                while not got and time.monotonic() < deadline:
                    got = [p for p in keep.poll(0.1) if p[0] >> 4 == t.PUBACK]
                check(got, "no PUBACK for the retained message")
                keep.close()
            pub.connect(b.port)
            until = time.monotonic() + rng.uniform(*ROUND_LOAD)
            while time.monotonic() < until:
                pub.pump()
                if sub_online:
                    sub.pump(0)
            kill(b)
            note("round %d: killed with %d sent, %d acknowledged, subscriber %s" %
                 (rnd, len(pub.sent), len(pub.acked), "online" if sub_online else "offline"))
            pub.c.close()
            if sub_online:
                sub.pump(0)
                sub.c.close()
        # Final restart: drain everything to the subscriber.
        start_round(b, ROUNDS)
        sub.connect(b.port)
        pub.connect(b.port)
        start = time.monotonic()
        while True:
            now = time.monotonic()
            # Waits while the backlog still flows: a fixed deadline reported the undrained
            # tail of a large queue as "lost" on a slow (sanitizer, loaded) run.
            if now - max(start, sub.last_rx) > DRAIN_TIMEOUT or now - start > DRAIN_CAP:
                break
            pub.handle(pub.c.poll(0))
            sub.pump(0.05)
            missing = pub.acked - set(sub.delivered)
            if not missing and not pub.unacked and not pub.wait_comp and \
                    time.monotonic() - sub.last_rx > 0.5:
                break
        missing = sorted(pub.acked - set(sub.delivered))
        check(not missing, "%d acknowledged messages lost after the kills, first %r" %
              (len(missing), missing[:10]))
        invented = sorted(set(sub.delivered) - pub.sent)
        check(not invented, "messages never sent were delivered: %r" % invented[:10])
        dups = sorted(s for s, n in sub.delivered.items() if n > 1)
        if qos == 2:
            check(not dups, "QoS 2 messages delivered twice: %r" % dups[:10])
        # The subscription survived: a new message still reaches the subscriber.
        pub.c.send(t.enc_publish("crash/final", b"final", qos=0))
        sub.c.send(t.enc_subscribe(2, [("keep/#", 1)]))
        deadline = time.monotonic() + 3
        final = False
        while time.monotonic() < deadline and not (final and sub.retained_seen):
            for first, body in sub.c.poll(0.05):
                if first >> 4 == t.PUBLISH and b"crash/final" in body:
                    final = True
                else:
                    sub.handle([(first, body)])
        check(final, "the subscription did not survive the kills")
        check(sub.retained_seen, "the retained message did not survive the kills")
        note("%d sent, %d acknowledged, %d delivered, %d delivered more than once, over %d "
             "kills" % (len(pub.sent), len(pub.acked), len(sub.delivered), len(dups), ROUNDS))
        check(len(pub.acked) > 100, "too little load to prove anything")
        pub.c.close()
        sub.c.close()
    finally:
        if b.alive():
            b.stop()
