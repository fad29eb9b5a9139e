#!/usr/bin/python3
# Raw QoS 2 inbound: PUBREC for PUBLISH and for its DUP resend, one delivery only, PUBREL -> PUBCOMP.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "q2sub")
        sub.subscribe([("q2/t", 1), ("q2/sync", 1)])
        pub = t.connected(b.port, "q2pub")
        pub.send(t.enc_publish("q2/t", b"exactly-once", qos=2, pid=7))
        p = pub.expect(t.PUBREC, 7)
        check_eq((p.flags, len(p.body)), (0, 2), "PUBREC flags and length")
        pub.send(t.enc_publish("q2/t", b"exactly-once", qos=2, pid=7, dup=True))
        pub.expect(t.PUBREC, 7)
        pub.send(t.enc_ack(t.PUBREL, 7))
        p = pub.expect(t.PUBCOMP, 7)
        check_eq((p.flags, len(p.body)), (0, 2), "PUBCOMP flags and length")
        got = t.marker_sync(sub, pub, "q2/sync")
        check_eq([(x.topic, x.payload) for x in got], [("q2/t", b"exactly-once")],
                 "deliveries of one QoS 2 message sent twice (DUP) before PUBREL")
        # The id is free again after PUBCOMP: a new message with id 7 is a new message.
        pub.publish("q2/t", b"second", qos=2, pid=7)
        sub.expect_publish("q2/t", b"second", qos=1)
        # PUBREL for an unknown id still gets PUBCOMP.
        pub.send(t.enc_ack(t.PUBREL, 4242))
        pub.expect(t.PUBCOMP, 4242)
        sub.disconnect()
        pub.disconnect()

t.run(main)
