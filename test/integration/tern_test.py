"""
Shared helpers for Tern's integration tests (test/integration/NN-area-case.py).

Each test script starts its own broker (the binary in $TERN_BIN) on a free loopback port with a
generated Mosquitto-style config in a temporary directory, talks to it with real clients (the raw
client below, mosquitto_pub/mosquitto_sub, Paho), and stops only the processes it started, by pid.
Every wait is bounded. A test fails by raising (check(), TestFailure, socket timeouts); run()
turns that into exit status 1 and prints the broker logs.

Run with /usr/bin/python3 (Debian's Python: it has paho-mqtt).
"""

import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BIN = os.environ.get("TERN_BIN", "")
# A command that runs BIN, e.g. "qemu-aarch64" for a cross-built broker (make test-arm).
RUNNER = os.environ.get("TERN_RUNNER", "").split()
HOST = "127.0.0.1"
RECV_TIMEOUT = 3.0        # default bound for one expected packet
QUIET_WAIT = 0.5          # how long "nothing arrives" is watched when no marker is used
START_TIMEOUT = float(os.environ.get("TERN_START_TIMEOUT", "5"))   # raise under valgrind
STOP_TIMEOUT = 5.0

_brokers = []             # every Broker started by this process, for logs on failure
_procs = []               # every client process started by this process


class TestFailure(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


SANITIZER_REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error: |"
                              r"WARNING: ThreadSanitizer|==\d+== (Invalid|Conditional|Syscall param)|"
                              r"definitely lost: [1-9]")


def sanitized():
    """True when the broker runs under ASan/UBSan (make test SAN=1) or valgrind: RSS and
    timing bounds of the hostile-client tests are widened or skipped."""
    return os.environ.get("TERN_SAN", "") not in ("", "0")


def check_no_sanitizer_report(text, what):
    """Fails when a sanitizer (or valgrind) report appears in text: a report is a failure even
    when the broker exits 0 (e.g. UBSan built with recovery, or valgrind without an error exit)."""
    m = SANITIZER_REPORT.search(text or "")
    if m:
        start = max(0, m.start() - 200)
        raise TestFailure("%s: sanitizer report in broker output:\n%s" % (what, text[start:start + 3000]))


def check_eq(got, want, what):
    if got != want:
        raise TestFailure("%s: expected %r, got %r" % (what, want, got))


def note(msg):
    print(msg, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


_is_tern = None


def is_tern():
    """True when $TERN_BIN is Tern (its --version output names it), False for Mosquitto."""
    global _is_tern
    if _is_tern is None:
        try:
            r = subprocess.run(RUNNER + [BIN, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=5)
            out = r.stdout.decode("utf-8", "replace")
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _is_tern = re.search(r"\btern\b", out, re.IGNORECASE) is not None
    return _is_tern


def keepalive_bound(keepalive):
    """Seconds within which the broker must close a silent client with this keepalive.
    Tern: 1.5 x keepalive + slack, at most 5 s for keepalive 1. Mosquitto 2.0.11 scans
    keepalives only every ~6 s (keepalive__check), so it gets 1.5 x keepalive + 7 s."""
    if is_tern():
        return max(5.0, keepalive * 1.5 + 3.5)
    note("NOTE: broker is not Tern: keepalive bound widened to 1.5*keepalive+7 s "
         "(Mosquitto 2.0.11 checks keepalives every ~6 s)")
    return keepalive * 1.5 + 7.0


def tern_only(what):
    """Returns True when Tern-only assertions should run; prints SKIP otherwise."""
    if is_tern():
        return True
    note("SKIP (Tern-only, broker is not Tern): %s" % what)
    return False


# ---------------------------------------------------------------------------------------------
# Broker process


class Broker:
    """A broker on a free loopback port with a generated config.

    extra: config lines appended after "listener PORT 127.0.0.1" and "allow_anonymous true".
    config: full config text instead (use {port} for the port); args: extra command-line args.
    Use as a context manager: leaving the block stops it and checks it exited with status 0.
    """

    def __init__(self, extra=(), config=None, args=(), files=None):
        self.dir = tempfile.mkdtemp(prefix="tern-it-")
        self.port = free_port()
        self.conf_path = os.path.join(self.dir, "broker.conf")
        self.log_path = os.path.join(self.dir, "broker.log")
        if config is None:
            lines = ["listener %d %s" % (self.port, HOST), "allow_anonymous true"]
            lines += list(extra)
            config = "\n".join(lines) + "\n"
        else:
            config = config.replace("{port}", str(self.port)).replace("{dir}", self.dir)
        for name, text in (files or {}).items():
            p = os.path.join(self.dir, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text.replace("{dir}", self.dir))
        with open(self.conf_path, "w") as f:
            f.write(config)
        self.args = list(args)
        self.proc = None
        self.stopped = False
        self.returncode = None

    def start(self, wait_ports=None):
        check(BIN and os.path.exists(BIN), "TERN_BIN=%r does not exist" % BIN)
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(RUNNER + [BIN, "-c", self.conf_path] + self.args,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        _brokers.append(self)
        for p in (wait_ports or [self.port]):
            wait_port(p, START_TIMEOUT, self.proc)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit status."""
        if self.proc is None or self.stopped:
            return self.returncode
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
                self.returncode = "killed after SIGTERM timeout"
        if self.returncode is None:
            self.returncode = self.proc.returncode
        self.logf.close()
        return self.returncode

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, etype, e, tb):
        was_alive = self.alive()
        rc = self.stop()
        if etype is None:
            check(was_alive, "broker died during the test (exit status %r)" % rc)
            check(rc == 0, "broker did not exit cleanly after SIGTERM: status %r" % rc)
            check_no_sanitizer_report(self.log(), "broker on port %d" % self.port)
            shutil.rmtree(self.dir, ignore_errors=True)
        return False


def settle_log(broker, text, before, timeout=3.0):
    """Waits (bounded, never failing) until text occurs in the broker's log more than before
    times: lets a test order a client's close before another client's next packet, which the
    broker may otherwise handle first in the same loop turn (always so with the poll poller)."""
    deadline = time.monotonic() + timeout
    while broker.log().count(text) <= before and time.monotonic() < deadline:
        time.sleep(0.01)


def run_broker_to_exit(args, timeout=5, cwd=None):
    """Runs BIN with args, expecting it to exit on its own. Returns (status, output)."""
    try:
        r = subprocess.run(RUNNER + [BIN] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise TestFailure("broker %r did not exit within %.1f s; output: %r" % (args, timeout, e.output))
    out = r.stdout.decode("utf-8", "replace")
    check_no_sanitizer_report(out, "broker %r" % (args,))
    return r.returncode, out


def wait_port(port, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise TestFailure("broker exited with status %r before accepting on port %d"
                              % (proc.returncode, port))
        try:
            s = socket.create_connection((HOST, port), timeout=0.5)
            s.close()
            return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TestFailure("port %d did not accept within %.1f s" % (port, timeout))
        time.sleep(0.02)


def port_accepts(port):
    try:
        s = socket.create_connection((HOST, port), timeout=0.5)
        s.close()
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# MQTT 3.1.1 encoding

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 10, 11, 12, 13, 14
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC", 6: "PUBREL",
         7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}


def enc_varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def enc_str(s):
    if isinstance(s, str):
        s = s.encode("utf-8")
    return struct.pack("!H", len(s)) + s


def packet(first_byte, body):
    return bytes([first_byte]) + enc_varint(len(body)) + body


def enc_connect(client_id="", clean=True, keepalive=60, will=None, username=None, password=None,
                proto_name="MQTT", level=4, flags=None):
    """will: (topic, payload, qos, retain). flags overrides the computed connect flags byte."""
    f = 0
    if clean:
        f |= 0x02
    payload = enc_str(client_id)
    if will is not None:
        wt, wp, wq, wr = will
        f |= 0x04 | (wq << 3) | (0x20 if wr else 0)
        payload += enc_str(wt) + enc_str(wp)
    if username is not None:
        f |= 0x80
        payload += enc_str(username)
    if password is not None:
        f |= 0x40
        payload += enc_str(password)
    if flags is not None:
        f = flags
    body = enc_str(proto_name) + bytes([level, f]) + struct.pack("!H", keepalive) + payload
    return packet(0x10, body)


def enc_publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    body = enc_str(topic)
    if qos > 0:
        body += struct.pack("!H", pid)
    return packet(first, body + payload)


def enc_ack(ptype, pid):
    first = (ptype << 4) | (0x02 if ptype == PUBREL else 0)
    return packet(first, struct.pack("!H", pid))


def enc_subscribe(pid, filters):
    """filters: [(filter, qos)]"""
    body = struct.pack("!H", pid)
    for flt, q in filters:
        body += enc_str(flt) + bytes([q])
    return packet(0x82, body)


def enc_unsubscribe(pid, filters):
    body = struct.pack("!H", pid)
    for flt in filters:
        body += enc_str(flt)
    return packet(0xA2, body)


PINGREQ_PKT = b"\xc0\x00"
DISCONNECT_PKT = b"\xe0\x00"


class Packet:
    def __init__(self, first, body):
        self.first = first
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body
        self.pid = None
        if self.type == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            self.dup = bool(self.flags & 0x08)
            self.retain = bool(self.flags & 0x01)
            tl = struct.unpack("!H", body[:2])[0]
            self.topic = body[2:2 + tl].decode("utf-8", "replace")
            off = 2 + tl
            if self.qos:
                self.pid = struct.unpack("!H", body[off:off + 2])[0]
                off += 2
            self.payload = body[off:]
        elif self.type in (PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK) and len(body) >= 2:
            self.pid = struct.unpack("!H", body[:2])[0]
        elif self.type == SUBACK and len(body) >= 2:
            self.pid = struct.unpack("!H", body[:2])[0]
            self.codes = list(body[2:])
        elif self.type == CONNACK and len(body) == 2:
            self.session_present = body[0] & 1
            self.rc = body[1]

    def __repr__(self):
        name = NAMES.get(self.type, "type%d" % self.type)
        if self.type == PUBLISH:
            p = self.payload if len(self.payload) <= 40 else self.payload[:40] + b"..."
            return "<PUBLISH %r q%d%s%s pid=%r %r>" % (self.topic, self.qos, " dup" if self.dup else "",
                                                      " retain" if self.retain else "", self.pid, p)
        return "<%s flags=%x %s>" % (name, self.flags, self.body.hex())


class Closed(Exception):
    pass


class Client:
    """A raw MQTT client over one TCP connection, with a buffered packet reader."""

    def __init__(self, port, name="client"):
        self.name = name
        self.sock = socket.create_connection((HOST, port), timeout=RECV_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.pending = []      # PUBLISH packets that arrived while an ack was awaited

    # -- sending
    def send(self, data):
        self.sock.sendall(data)

    def connect(self, client_id, clean=True, keepalive=60, expect_rc=0, **kw):
        """Sends CONNECT and reads CONNACK; checks its return code. Returns the CONNACK."""
        self.send(enc_connect(client_id, clean, keepalive, **kw))
        p = self.recv(what="CONNACK for %r" % client_id)
        check(p.type == CONNACK, "%s: expected CONNACK, got %r" % (self.name, p))
        check_eq(p.rc, expect_rc, "%s: CONNACK return code" % self.name)
        return p

    def publish(self, topic, payload=b"", qos=0, retain=False, dup=False, pid=None, wait_ack=True):
        """Publishes; for QoS 1/2 with wait_ack completes the flow (PUBACK / PUBREC-PUBREL-PUBCOMP)."""
        if qos and pid is None:
            pid = 1
        self.send(enc_publish(topic, payload, qos, retain, dup, pid))
        if qos == 1 and wait_ack:
            self.expect(PUBACK, pid)
        elif qos == 2 and wait_ack:
            self.expect(PUBREC, pid)
            self.send(enc_ack(PUBREL, pid))
            self.expect(PUBCOMP, pid)

    def subscribe(self, filters, pid=1, expect_codes=None):
        """filters: [(filter, qos)] or a single filter string (QoS 0). Returns SUBACK codes."""
        if isinstance(filters, str):
            filters = [(filters, 0)]
        self.send(enc_subscribe(pid, filters))
        p = self.expect(SUBACK, pid)
        if expect_codes is None:
            expect_codes = [q for _, q in filters]
        check_eq(p.codes, expect_codes, "%s: SUBACK return codes for %r" % (self.name, filters))
        return p.codes

    def unsubscribe(self, filters, pid=1):
        self.send(enc_unsubscribe(pid, filters))
        self.expect(UNSUBACK, pid)

    def ping(self):
        self.send(PINGREQ_PKT)
        self.expect(PINGRESP)

    def disconnect(self):
        try:
            self.send(DISCONNECT_PKT)
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- receiving
    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            raise Closed()
        self.buf += data

    def recv(self, timeout=RECV_TIMEOUT, what="a packet"):
        """Next packet; raises TestFailure on timeout or when the broker closes the connection."""
        try:
            return self.recv_raw(timeout)
        except socket.timeout:
            raise TestFailure("%s: no %s within %.1f s" % (self.name, what, timeout))
        except Closed:
            raise TestFailure("%s: connection closed by the broker while waiting for %s"
                              % (self.name, what))

    def recv_raw(self, timeout=RECV_TIMEOUT):
        """Next packet; raises socket.timeout or Closed."""
        if self.pending:
            return self.pending.pop(0)
        return self._recv_wire(timeout)

    def _recv_wire(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 2:
                rl, mult, i = 0, 1, 1
                complete = False
                while i < len(self.buf) and i <= 4:
                    b = self.buf[i]
                    rl += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        complete = True
                        break
                if complete and len(self.buf) >= i + rl:
                    p = Packet(self.buf[0], bytes(self.buf[i:i + rl]))
                    del self.buf[:i + rl]
                    return p
            self._fill(deadline)

    def expect(self, ptype, pid=None, timeout=RECV_TIMEOUT):
        """Next packet must be ptype (with pid). While waiting for a non-PUBLISH packet, PUBLISH
        packets that arrive first are kept for later recv() calls (the broker may route our own
        publish to us before acknowledging it)."""
        what = "%s%s" % (NAMES[ptype], "" if pid is None else " id=%d" % pid)
        stash = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                if ptype != PUBLISH:
                    p = self._recv_wire(max(0.001, deadline - time.monotonic()))
                else:
                    p = self.recv_raw(max(0.001, deadline - time.monotonic()))
            except socket.timeout:
                self.pending = self.pending + stash
                raise TestFailure("%s: no %s within %.1f s" % (self.name, what, timeout))
            except Closed:
                raise TestFailure("%s: connection closed by the broker while waiting for %s"
                                  % (self.name, what))
            if ptype != PUBLISH and p.type == PUBLISH:
                stash.append(p)
                continue
            break
        self.pending = self.pending + stash
        check(p.type == ptype, "%s: expected %s, got %r" % (self.name, NAMES[ptype], p))
        if pid is not None:
            check_eq(p.pid, pid, "%s: %s packet id" % (self.name, NAMES[ptype]))
        if ptype == PUBREL:
            check_eq(p.flags, 2, "%s: PUBREL flags" % self.name)
        return p

    def expect_publish(self, topic=None, payload=None, qos=None, retain=None, timeout=RECV_TIMEOUT,
                       ack=True):
        """Next packet must be a PUBLISH matching the given fields; acks QoS 1/2 when ack."""
        p = self.recv(timeout, "PUBLISH%s" % ("" if topic is None else " on %r" % topic))
        check(p.type == PUBLISH, "%s: expected PUBLISH, got %r" % (self.name, p))
        if topic is not None:
            check_eq(p.topic, topic, "%s: PUBLISH topic" % self.name)
        if payload is not None:
            if isinstance(payload, str):
                payload = payload.encode()
            check_eq(p.payload, payload, "%s: PUBLISH payload on %r" % (self.name, p.topic))
        if qos is not None:
            check_eq(p.qos, qos, "%s: PUBLISH QoS on %r" % (self.name, p.topic))
        if retain is not None:
            check_eq(p.retain, retain, "%s: PUBLISH RETAIN flag on %r" % (self.name, p.topic))
        if ack:
            self.ack(p)
        return p

    def ack(self, p):
        if p.type != PUBLISH:
            return
        if p.qos == 1:
            self.send(enc_ack(PUBACK, p.pid))
        elif p.qos == 2:
            self.send(enc_ack(PUBREC, p.pid))
            self.expect(PUBREL, p.pid)
            self.send(enc_ack(PUBCOMP, p.pid))

    def expect_nothing(self, timeout=QUIET_WAIT, what="nothing"):
        try:
            p = self.recv_raw(timeout)
        except socket.timeout:
            return
        except Closed:
            raise TestFailure("%s: connection closed while expecting %s" % (self.name, what))
        raise TestFailure("%s: expected %s, got %r" % (self.name, what, p))

    def expect_closed(self, timeout=RECV_TIMEOUT, allow=(), what=""):
        """The broker must close the connection within timeout. Packets of the types in allow are
        skipped; any other packet fails. Returns the packets skipped."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                p = self.recv_raw(max(0.001, deadline - time.monotonic()))
            except Closed:
                return seen
            except socket.timeout:
                raise TestFailure("%s: connection not closed by the broker within %.1f s%s"
                                  % (self.name, timeout, (" (" + what + ")") if what else ""))
            except OSError as e:   # e.g. reset while sending leftovers
                return seen
            if p.type not in allow:
                raise TestFailure("%s: expected the connection to be closed%s, got %r"
                                  % (self.name, (" (" + what + ")") if what else "", p))
            seen.append(p)

    def collect(self, n, timeout=RECV_TIMEOUT, ack=True):
        """Receives n PUBLISH packets (acking them); fails if fewer arrive within timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            p = self.recv(max(0.001, deadline - time.monotonic()),
                          "PUBLISH #%d of %d" % (len(got) + 1, n))
            check(p.type == PUBLISH, "%s: expected PUBLISH, got %r" % (self.name, p))
            if ack:
                self.ack(p)
            got.append(p)
        return got


def collect_from(clients, total, timeout=10.0):
    """Reads PUBLISH packets from every client in turn (acking them) until total arrived in
    all; returns {client name: [packets]}. Fails if they do not arrive within timeout."""
    got = {c.name: [] for c in clients}
    deadline = time.monotonic() + timeout
    while sum(len(v) for v in got.values()) < total:
        check(time.monotonic() < deadline, "all %d arrived in time: %r" %
              (total, {k: [p.payload for p in v] for k, v in got.items()}))
        for c in clients:
            try:
                p = c.recv(0.05)
            except TestFailure:
                continue
            check(p.type == PUBLISH, "%s: PUBLISH, got %r" % (c.name, p))
            c.ack(p)
            got[c.name].append(p)
    return got


def connected(port, client_id, clean=True, keepalive=60, **kw):
    c = Client(port, client_id or "anon")
    c.connect(client_id, clean, keepalive, **kw)
    return c


def round_trip(port, tag="rt"):
    """A healthy subscriber/publisher pair still works: fails otherwise."""
    sub = connected(port, tag + "-sub")
    sub.subscribe([(tag + "/t", 1)])
    pub = connected(port, tag + "-pub")
    pub.publish(tag + "/t", b"alive", qos=1)
    sub.expect_publish(tag + "/t", b"alive", qos=1)
    pub.disconnect()
    sub.disconnect()


def marker_sync(sub, pub, topic):
    """sub is subscribed to topic; pub publishes a marker there. Everything the broker routed to
    sub before the marker arrives first: returns those PUBLISH packets (the marker excluded)."""
    pub.publish(topic, b"marker", qos=1)
    before = []
    deadline = time.monotonic() + RECV_TIMEOUT
    while True:
        p = sub.recv(max(0.001, deadline - time.monotonic()), "marker on %r" % topic)
        check(p.type == PUBLISH, "%s: expected PUBLISH, got %r" % (sub.name, p))
        sub.ack(p)
        if p.topic == topic and p.payload == b"marker":
            return before
        before.append(p)


# ---------------------------------------------------------------------------------------------
# mosquitto_pub / mosquitto_sub

def run_pub(port, topic, message=None, qos=0, extra=(), lines=None, timeout=10):
    """Runs mosquitto_pub; lines: list of messages sent with -l. Fails unless it exits 0."""
    cmd = ["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", topic, "-q", str(qos)] + list(extra)
    stdin = None
    if lines is not None:
        cmd.append("-l")
        stdin = ("\n".join(lines) + "\n").encode()
    else:
        cmd += ["-m", message]
    try:
        r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("mosquitto_pub did not finish within %d s: %s" % (timeout, cmd))
    check(r.returncode == 0, "mosquitto_pub exited %d: %s" % (r.returncode, r.stdout.decode()))


class Sub:
    """mosquitto_sub in the background. Waits for its SUBACK (debug output) before returning.
    Messages are printed as 'MSG <topic> <payload>' lines."""

    def __init__(self, port, topic, qos=0, count=None, extra=(), timeout=20):
        cmd = ["stdbuf", "-oL", "mosquitto_sub", "-h", HOST, "-p", str(port), "-t", topic, "-q", str(qos), "-d",
               "-F", "MSG %t %p", "-W", str(timeout)] + list(extra)
        if count is not None:
            cmd += ["-C", str(count)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        _procs.append(self.proc)
        self.lines = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()
        self._wait_for(lambda: any("SUBACK" in l for l in self.lines), 5, "mosquitto_sub SUBACK")

    def _reader(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def _wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred():
                left = deadline - time.monotonic()
                if left <= 0 or None in self.lines:
                    if pred():
                        break
                    raise TestFailure("%s not seen within %.1f s; output:\n%s"
                                      % (what, timeout, "\n".join(l for l in self.lines if l)))
                self.cond.wait(left)

    def messages(self):
        with self.cond:
            return [l[4:] for l in self.lines if l and l.startswith("MSG ")]

    def wait_messages(self, n, timeout=5):
        self._wait_for(lambda: len([l for l in self.lines if l and l.startswith("MSG ")]) >= n,
                       timeout, "%d messages at mosquitto_sub" % n)
        return self.messages()

    def wait_exit(self, timeout=5):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("mosquitto_sub did not exit within %.1f s" % timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)


# ---------------------------------------------------------------------------------------------
# Runner

def _cleanup():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                pass
    for b in _brokers:
        if not b.stopped:
            try:
                b.stop()
            except Exception:
                pass


def run(fn):
    """Runs a test body; exit status 0 on success, 1 on failure (with broker logs)."""
    if not BIN:
        print("TERN_BIN is not set", file=sys.stderr)
        sys.exit(1)
    try:
        fn()
    except Skip as e:
        _cleanup()
        note("SKIP: %s" % e)
        sys.exit(0)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        _cleanup()
        for b in _brokers:
            note("---- broker log (%s, exit %r) ----" % (b.log_path, b.returncode))
            log = b.log()
            note(log[-4000:] if len(log) > 4000 else log)
        sys.exit(1)
    _cleanup()
    sys.exit(0)
