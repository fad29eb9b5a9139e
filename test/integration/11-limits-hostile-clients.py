#!/usr/bin/python3
# Hostile clients: a mid-packet stall with keepalive 0 is closed, huge announced lengths allocate nothing up front, a client that never reads its PUBACKs is no longer read, per-address connection limit, memory_limit refuses and recovers, a flooder does not starve a pinging client.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import socket, struct, threading, time

MB = 1024 * 1024


def proc_status(b, field):
    """A /proc/PID/status field of the broker, in bytes (VmRSS, VmData)."""
    with open("/proc/%d/status" % b.proc.pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise t.TestFailure("no %s in /proc status" % field)


def wait_log(b, text, timeout=5):
    deadline = time.monotonic() + timeout
    while text not in b.log():
        check(time.monotonic() < deadline, "log line %r not seen within %.1f s" % (text, timeout))
        time.sleep(0.05)


def stall_client(port):
    """CONNECT with keepalive 0, then half a PUBLISH, then silence."""
    c = t.connected(port, "staller", keepalive=0)
    c.send(b"\x30\x0a\x00\x03a/")
    return c


def huge_lengths(b):
    """Headers announcing 256 MB packets cost nothing until the bytes arrive."""
    rss0, data0 = proc_status(b, "VmRSS"), proc_status(b, "VmData")
    conns = []
    for i in range(100):
        c = t.connected(b.port, "huge%d" % i)
        c.send(b"\x30" + t.enc_varint(268435455) + t.enc_str("big/t") + b"x" * 1000)
        conns.append(c)
    # One of them keeps sending: its buffer grows with the bytes, not with the header.
    for _ in range(16):
        conns[0].send(b"y" * 65536)
    t.round_trip(b.port, "huge-rt")   # the broker has read everything sent before this
    time.sleep(0.2)
    rss1, data1 = proc_status(b, "VmRSS"), proc_status(b, "VmData")
    t.note("100 x 256 MB headers + 1 MB body: RSS +%.1f MB, VmData +%.1f MB"
           % ((rss1 - rss0) / MB, (data1 - data0) / MB))
    check(data1 - data0 < 48 * MB, "VmData grew %.1f MB: memory allocated for announced, "
          "unsent bytes" % ((data1 - data0) / MB))
    check(rss1 - rss0 < 32 * MB, "RSS grew %.1f MB" % ((rss1 - rss0) / MB))
    for c in conns:
        c.close()


def unread_acks(b):
    """A client that floods and never reads: once its output passes the bound, it is not read
    either, so the broker holds a bounded amount for it; others are served meanwhile."""
    hog = t.connected(b.port, "hog")
    hog.subscribe([("hog/t", 0)])
    hog.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.sock.setblocking(False)
    payload = b"h" * 10000
    pkt = t.enc_publish("hog/t", payload, qos=1, pid=7)
    rss0 = proc_status(b, "VmRSS")
    sent = 0
    deadline = time.monotonic() + 4
    blocked_since = None
    while time.monotonic() < deadline and sent < 200 * MB:
        try:
            off = sent % len(pkt)          # packets stay whole across partial sends
            sent += hog.sock.send(pkt[off:] + pkt * 8)
            blocked_since = None
        except BlockingIOError:
            if blocked_since is None:
                blocked_since = time.monotonic()
            elif time.monotonic() - blocked_since > 1.0:
                break          # the broker stopped reading us
            time.sleep(0.01)
    rss1 = proc_status(b, "VmRSS")
    t.note("non-reading QoS 1 flooder pushed %.1f MB before being paused; broker RSS +%.1f MB"
           % (sent / MB, (rss1 - rss0) / MB))
    check(blocked_since is not None, "the broker kept reading a client whose output is over "
          "the bound (%.1f MB sent)" % (sent / MB))
    if t.is_tern():
        wait_log(b, "not reading from it until they drain")
    check(rss1 - rss0 < 64 * MB, "broker RSS grew %.1f MB for one non-reading client"
          % ((rss1 - rss0) / MB))
    t.round_trip(b.port, "beside-hog")
    hog.close()


def per_address(b):
    """max_connections_per_address 4: a fifth connection from 127.0.0.1 is refused, one from
    127.0.0.2 is not, and a freed slot can be reused."""
    time.sleep(0.2)            # let the broker see earlier connections close
    own = [t.connected(b.port, "pa%d" % i) for i in range(4)]
    extra = t.Client(b.port, "pa-extra")
    try:
        extra.send(t.enc_connect("pa-extra"))
    except OSError:
        pass
    extra.expect_closed(what="fifth connection from 127.0.0.1")
    wait_log(b, "max_connections_per_address (4) reached")
    other = socket.socket()
    other.settimeout(t.RECV_TIMEOUT)
    other.bind(("127.0.0.2", 0))
    other.connect((t.HOST, b.port))
    c2 = t.Client.__new__(t.Client)
    c2.name, c2.sock, c2.buf, c2.eof, c2.pending = "127.0.0.2", other, bytearray(), False, []
    c2.connect("from-127-0-0-2")
    own[0].disconnect()
    deadline = time.monotonic() + 3
    while True:
        c = t.Client(b.port, "pa-again")
        try:
            c.connect("pa-again")
            break
        except (t.TestFailure, OSError):
            c.close()
            check(time.monotonic() < deadline, "freed per-address slot not reusable")
            time.sleep(0.05)
    for x in own[1:] + [c, c2]:
        x.disconnect()


def fairness(b):
    """A client flooding QoS 0 PUBLISHes gets a bounded share of each loop turn: another
    client's PINGREQ round trips stay fast."""
    sub = t.connected(b.port, "fair-sub")
    sub.subscribe([("fair/t", 0)])
    stop = threading.Event()
    flood_sent = [0]

    def reader():
        sub.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                if not sub.sock.recv(1 << 20):
                    return
            except OSError:
                pass

    def flooder():
        f = t.connected(b.port, "fair-flood")
        chunk = t.enc_publish("fair/t", b"z" * 200) * 500
        while not stop.is_set():
            try:
                f.send(chunk)
                flood_sent[0] += len(chunk)
            except OSError:
                return
        f.close()

    ths = [threading.Thread(target=reader, daemon=True), threading.Thread(target=flooder, daemon=True)]
    for th in ths:
        th.start()
    time.sleep(0.3)
    pinger = t.connected(b.port, "pinger")
    rtts = []
    for _ in range(50):
        s = time.monotonic()
        pinger.ping()
        rtts.append(time.monotonic() - s)
        time.sleep(0.01)
    stop.set()
    for th in ths:
        th.join(3)
    rtts.sort()
    bound = 0.5 if t.sanitized() else 0.15
    t.note("fairness: flooder sent %.0f MB; pinger RTT median %.1f ms, max %.1f ms"
           % (flood_sent[0] / MB, rtts[len(rtts) // 2] * 1000, rtts[-1] * 1000))
    check(flood_sent[0] > 1 * MB, "the flooder hardly sent anything")
    check(rtts[len(rtts) // 2] < bound / 3 and rtts[-1] < bound,
          "pinger starved by a flooder: median %.1f ms, max %.1f ms"
          % (rtts[len(rtts) // 2] * 1000, rtts[-1] * 1000))
    pinger.disconnect()
    sub.close()


def memory_limit():
    """memory_limit: publishes past it are refused (QoS 1 not acknowledged), and the broker
    recovers once memory frees."""
    with t.Broker(["memory_limit 4000000"]) as b:
        stuck = t.connected(b.port, "mem-stuck")
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.subscribe([("mem/#", 0)])
        pub = t.connected(b.port, "mem-pub")
        payload = b"m" * 20000
        for _ in range(1000):         # 20 MB at QoS 0 towards a subscriber that never reads (its
            # socket buffers take several MB before the broker has to hold any)
            pub.send(t.enc_publish("mem/a", payload))
        pub.ping()
        # 200 kB: the refusal must not hinge on the few kB the kernel may still take from the
        # stuck subscriber's output meanwhile.
        big = b"Q" * 200000
        pub.send(t.enc_publish("mem/q1", big, qos=1, pid=42))
        pub.expect_nothing(0.7, "no PUBACK while memory_limit is reached")
        wait_log(b, "memory_limit reached")
        stuck.close()               # its output buffer goes: memory frees
        time.sleep(0.3)
        pub.send(t.enc_publish("mem/q1", big, qos=1, pid=42, dup=True))
        p = pub.recv(what="PUBACK after memory freed")
        check(p.type == t.PUBACK and p.pid == 42, "expected PUBACK 42, got %r" % p)
        t.round_trip(b.port, "mem-rt")
        pub.disconnect()


def main():
    if not t.tern_only("hostile-client limits (Tern's own behaviour and options)"):
        return
    with t.Broker(["max_connections_per_address 4"]) as b:
        per_address(b)
    with t.Broker() as b:
        staller = stall_client(b.port)
        stall_start = time.monotonic()
        if not t.sanitized():
            huge_lengths(b)
        unread_acks(b)
        fairness(b)
        # The staller: keepalive 0, half a packet, silence: closed after the 10 s timeout.
        staller.expect_closed(timeout=max(1.0, 15 - (time.monotonic() - stall_start)),
                              what="mid-packet stall with keepalive 0")
        took = time.monotonic() - stall_start
        t.note("mid-packet staller closed after %.1f s" % took)
        check(took > 8, "staller closed too early (%.1f s)" % took)
        wait_log(b, "stalled in the middle of a packet")
        t.round_trip(b.port)
    memory_limit()


t.run(main)
