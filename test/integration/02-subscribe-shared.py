#!/usr/bin/python3
# Shared subscriptions $share/GROUP/FILTER from 3.1.1 clients: 300 QoS 1 messages over 3
# members arrive exactly once in all, 100 +- 10 each (round-robin); a plain subscriber to the
# same filter still gets every one; a retained message is not sent on the shared subscription;
# a member whose connection drops with unacknowledged messages has them handed to another
# member; after UNSUBSCRIBE a member gets nothing more.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

N = 300


def main():
    if not t.tern_only("shared subscriptions"):
        return
    with t.Broker() as b:
        pub = t.connected(b.port, "pub")
        pub.publish("jobs/old", b"retained", qos=1, retain=True)
        members = [t.connected(b.port, "m%d" % i) for i in range(3)]
        for m in members:
            m.subscribe([("$share/workers/jobs/#", 1)])
            m.expect_nothing(timeout=0.2, what="no retained message on a shared subscription")
        plain = t.connected(b.port, "plain")
        plain.subscribe([("jobs/#", 1)])
        plain.expect_publish("jobs/old", b"retained", retain=True)
        for i in range(N):
            pub.publish("jobs/new", b"%d" % i, qos=1, pid=i % 60000 + 1)
        got = t.collect_from(members, N)
        payloads = sorted(int(p.payload) for v in got.values() for p in v)
        check_eq(payloads, list(range(N)), "every message to exactly one member")
        for name, v in got.items():
            check(abs(len(v) - N // 3) <= 10, "%s got %d of %d (round-robin)" % (name, len(v), N))
            check(all(not p.retain for p in v), "RETAIN 0 on shared deliveries")
        check_eq(len(plain.collect(N)), N, "the plain subscriber gets all")
        for m in members:
            m.expect_nothing(timeout=0.2, what="no duplicates")

        # Takeover: m0 holds two messages unacknowledged and drops its connection.
        members[2].unsubscribe(["$share/workers/jobs/#"])
        a, bm = members[0], members[1]
        for i in range(4):
            pub.publish("jobs/t", b"t%d" % i, qos=1, pid=i + 1)
        pa = a.collect(2, ack=False)
        pb = bm.collect(2)
        check_eq(sorted(p.payload for p in pa + pb), [b"t0", b"t1", b"t2", b"t3"], "split of 4")
        members[2].expect_nothing(timeout=0.2, what="nothing after UNSUBSCRIBE")
        a.close()
        handed = bm.collect(2, timeout=3)
        check_eq(sorted(p.payload for p in handed), sorted(p.payload for p in pa),
                 "the dropped member's unacknowledged messages reach the other member")
        pub.publish("jobs/t", b"after", qos=1, pid=9)
        bm.expect_publish("jobs/t", b"after")
        plain.collect(5)
        for c in (pub, bm, members[2], plain):
            c.disconnect()

t.run(main)
