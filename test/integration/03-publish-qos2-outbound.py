#!/usr/bin/python3
# QoS 2 outbound to a raw subscriber: PUBLISH, PUBREC -> PUBREL, PUBCOMP; nothing resent afterwards.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "q2out")
        sub.subscribe([("q2o/t", 2)])
        pub = t.connected(b.port, "q2opub")
        pub.publish("q2o/t", b"outbound", qos=2, pid=3)
        p = sub.expect_publish("q2o/t", b"outbound", qos=2, ack=False)
        check(p.pid and not p.dup, "QoS 2 PUBLISH: non-zero id, DUP=0 (%r)" % p)
        sub.send(t.enc_ack(t.PUBREC, p.pid))
        r = sub.expect(t.PUBREL, p.pid)
        check_eq(len(r.body), 2, "PUBREL length")
        sub.send(t.enc_ack(t.PUBCOMP, p.pid))
        sub.ping()                      # nothing else (no resend) before the PINGRESP
        pub.publish("q2o/t", b"next", qos=2, pid=4)
        sub.expect_publish("q2o/t", b"next", qos=2)
        sub.disconnect()
        pub.disconnect()

t.run(main)
