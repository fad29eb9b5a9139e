#!/usr/bin/python3
# Overlapping subscriptions (a/+ QoS 1, a/# QoS 2) by one client: one copy per message at min(published QoS, highest granted QoS).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "overlap")
        sub.subscribe([("a/+", 1), ("a/#", 2), ("sync", 2)])
        pub = t.connected(b.port, "overlappub")
        for q in (2, 1, 0):
            pub.publish("a/b", ("q%d" % q).encode(), qos=q, pid=10 + q)
            got = t.marker_sync(sub, pub, "sync")
            check(len(got) >= 1, "published at QoS %d: nothing delivered" % q)
            copies = [(p.qos, p.payload) for p in got]
            if t.is_tern():
                check_eq(copies, [(q, ("q%d" % q).encode())],
                         "copies delivered for one PUBLISH at QoS %d (one copy at min(%d, 2))" % (q, q))
            else:
                # Mosquitto 2.0.11 sends one copy, but at the QoS of the first matching
                # subscription (a/+ -> 1), not the maximum: a QoS 2 publish arrives at QoS 1,
                # against MQTT-3.3.5-1. Only the payload and the copy count are checked here.
                check(1 <= len(copies) <= 2, "copies for one PUBLISH: %r" % copies)
                check(all(c[1] == ("q%d" % q).encode() for c in copies), "payloads: %r" % copies)
                if copies != [(q, ("q%d" % q).encode())]:
                    t.note("SKIP (Tern-only): published at QoS %d, broker sent %r; Tern must send "
                           "one copy at QoS %d" % (q, copies, q))
        sub.disconnect()
        pub.disconnect()

t.run(main)
