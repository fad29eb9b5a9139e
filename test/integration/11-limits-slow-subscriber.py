#!/usr/bin/python3
# A subscriber that stops reading does not stall the broker: the publisher and other clients keep working, and it exits cleanly.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time, threading

def main():
    with t.Broker() as b:
        stuck = t.connected(b.port, "stuck")
        stuck.sock.setsockopt(t.socket.SOL_SOCKET, t.socket.SO_RCVBUF, 4096)
        stuck.subscribe([("flood/t", 0), ("flood/q1", 1)])
        pub = t.connected(b.port, "flooder")
        payload = b"f" * 10000
        start = time.monotonic()
        done = threading.Event()
        def flood():
            for i in range(2000):          # 20 MB at QoS 0, never read by "stuck"
                pub.send(t.enc_publish("flood/t", payload))
            for i in range(100):           # and QoS 1 ones, which it will never ack
                pub.send(t.enc_publish("flood/q1", payload, qos=1, pid=i + 1))
            done.set()
        th = threading.Thread(target=flood, daemon=True)
        th.start()
        check(done.wait(20), "publisher blocked: the broker stopped reading it while one "
              "subscriber is not reading (%.1f s)" % (time.monotonic() - start))
        acks = 0
        while acks < 100:
            p = pub.recv(5, "PUBACK %d of 100" % (acks + 1))
            check(p.type == t.PUBACK, "expected PUBACK, got %r" % p)
            acks += 1
        t.note("flood sent and acked in %.1f s" % (time.monotonic() - start))
        t.round_trip(b.port, "healthy")
        pub.ping()
        check(b.alive(), "broker died")

t.run(main)
