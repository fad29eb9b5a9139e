#!/usr/bin/python3
# Store-and-forward across an upstream outage: a client publishes 500 QoS 1 messages to the
# gateway, which bridges them out to a real Mosquitto; the upstream is stopped after about a
# third of them and started again 3 s later (same port; its persistence keeps the subscriber's
# session). The upstream subscriber (persistent session, QoS 1) must get every message, in
# order: the first copies of the payloads are exactly 0..499 in sequence. Duplicates (QoS 1
# resends of what was in flight when the link dropped) are allowed and reported. The gateway
# logs the lost link, the failed attempts while the upstream is down, and the reconnect.
import os, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from bridge_util import Upstream, bridge_lines, wait_connected, wait_log_count

N = 500


class Collector:
    """A persistent QoS 1 subscriber on the upstream that reconnects until stopped."""

    def __init__(self, port):
        self.port = port
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.ready = threading.Event()
        self.thread.start()

    def run(self):
        first = True
        deadline = time.monotonic() + 50
        while not self.stop and time.monotonic() < deadline:
            try:
                c = t.Client(self.port, "up-sub")
                c.connect("up-sub", clean=False)
                if first:
                    c.subscribe([("site1/#", 1)])
                    first = False
                self.ready.set()
                while not self.stop:
                    try:
                        p = c.recv_raw(0.5)
                    except socket.timeout:
                        continue
                    if p.type == t.PUBLISH:
                        c.ack(p)
                        self.got.append(p.payload.decode())
                c.close()
            except (OSError, t.Closed, t.TestFailure):
                time.sleep(0.1)


def main():
    up = Upstream(["persistence true", "autosave_interval 1", "user root"]).start()
    coll = None
    try:
        lines = bridge_lines("gw1", up.port, ["data/# out 1 gw/ site1/"])
        with t.Broker(lines) as gw:
            wait_connected(gw, "gw1")
            coll = Collector(up.port)
            check(coll.ready.wait(5), "upstream subscriber connected")
            time.sleep(0.3)
            pub = t.connected(gw.port, "gw-pub")
            t0 = time.monotonic()
            for i in range(N):
                pub.publish("gw/data/seq", b"%d" % i, qos=1, pid=i % 60000 + 1)
                if i == N // 3:
                    up.stop()
                    stopped = time.monotonic()
                if i > N // 3:
                    time.sleep(0.002)
            publish_s = time.monotonic() - t0
            t.note("published %d QoS 1 messages in %.2f s; upstream stopped at #%d"
                   % (N, publish_s, N // 3))
            wait_log_count(gw, "Bridge gw1: connection to", 1, 5)
            time.sleep(max(0.0, 3.0 - (time.monotonic() - stopped)))
            up.start()
            restarted = time.monotonic()
            wait_connected(gw, "gw1", n=2, timeout=10)
            t.note("bridge reconnected %.2f s after the upstream came back"
                   % (time.monotonic() - restarted))
            deadline = time.monotonic() + 20
            while len(set(coll.got)) < N and time.monotonic() < deadline:
                time.sleep(0.1)
            drained = time.monotonic() - restarted
            got = list(coll.got)
            firsts = []
            seen = set()
            for p in got:
                if p not in seen:
                    seen.add(p)
                    firsts.append(p)
            missing = sorted(set("%d" % i for i in range(N)) - seen, key=int)
            check(not missing, "every message arrives upstream; missing %d: %s"
                  % (len(missing), missing[:20]))
            check_eq(firsts, ["%d" % i for i in range(N)], "first copies in publish order")
            dups = len(got) - len(firsts)
            t.note("all %d arrived in order %.2f s after the upstream restart; %d duplicates "
                   "(QoS 1 resends)" % (N, drained, dups))
            check(dups <= 40, "duplicates bounded by the in-flight window: %d" % dups)
            log = gw.log()
            check("Bridge gw1: connecting to" in log, "failed attempts while down are logged")
            pub.disconnect()
    finally:
        if coll is not None:
            coll.stop = True
            coll.thread.join(3)
        up.stop()


t.run(main)
