#!/usr/bin/python3
# Outbound QoS 2 state survives a clean-0 reconnect: an unanswered PUBLISH is resent with DUP=1, an unanswered PUBREL is resent.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "q2r", clean=False)
        c.subscribe([("q2r/t", 2)])
        pub = t.connected(b.port, "q2rpub")

        # 1. PUBLISH not answered -> resent with DUP=1, same id.
        pub.publish("q2r/t", b"first", qos=2, pid=1)
        p = c.expect_publish("q2r/t", b"first", qos=2, ack=False)
        c.close()
        c = t.Client(b.port, "q2r")
        check_eq(c.connect("q2r", clean=False).session_present, 1, "session-present")
        again = c.expect_publish("q2r/t", b"first", qos=2, ack=False)
        check(again.dup, "resent QoS 2 PUBLISH has DUP=1: %r" % again)
        check_eq(again.pid, p.pid, "resent packet id")

        # 2. PUBREC sent, PUBREL not answered -> PUBREL resent (no PUBLISH).
        c.send(t.enc_ack(t.PUBREC, again.pid))
        c.expect(t.PUBREL, again.pid)
        c.close()
        c = t.Client(b.port, "q2r")
        c.connect("q2r", clean=False)
        rel = c.recv(what="resent PUBREL")
        check(rel.type == t.PUBREL and rel.pid == again.pid,
              "expected PUBREL id=%d after reconnect, got %r" % (again.pid, rel))
        c.send(t.enc_ack(t.PUBCOMP, again.pid))
        c.expect_nothing(what="nothing after PUBCOMP")
        # The flow is finished: nothing on the next reconnect either.
        c.close()
        c = t.Client(b.port, "q2r")
        c.connect("q2r", clean=False)
        c.expect_nothing(what="no resend after the QoS 2 flow completed")
        c.disconnect()
        pub.disconnect()

t.run(main)
