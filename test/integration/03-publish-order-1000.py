#!/usr/bin/python3
# 1000 QoS 1 messages from one publisher arrive in order at a QoS 1 subscriber.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import threading

N = 1000

def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "ordsub")
        sub.subscribe([("ord/t", 1)])
        pub = t.connected(b.port, "ordpub")
        # Pipeline the publishes in a thread; read PUBACKs after.
        def send_all():
            for i in range(N):
                pub.send(t.enc_publish("ord/t", b"%d" % i, qos=1, pid=i % 65535 + 1))
        th = threading.Thread(target=send_all, daemon=True)
        th.start()
        got = sub.collect(N, timeout=30)
        th.join(5)
        acks = [pub.expect(t.PUBACK, timeout=10).pid for _ in range(N)]
        check_eq(acks, [i % 65535 + 1 for i in range(N)], "PUBACK ids in order")
        payloads = [int(p.payload) for p in got]
        if payloads != list(range(N)):
            bad = next(i for i, v in enumerate(payloads) if v != i)
            raise t.TestFailure("out of order at index %d: %r" % (bad, payloads[max(0, bad - 3):bad + 4]))
        check(all(p.qos == 1 for p in got), "all delivered at QoS 1")
        sub.disconnect()
        pub.disconnect()

t.run(main)
