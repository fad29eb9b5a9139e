#!/usr/bin/python3
# An unacknowledged outbound QoS 1 message is resent with DUP=1 and the same packet id after a clean-0 reconnect.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "nodack", clean=False)
        c.subscribe([("dup/t", 1)])
        pub = t.connected(b.port, "duppub")
        pub.publish("dup/t", b"unacked", qos=1)
        first = c.expect_publish("dup/t", b"unacked", qos=1, ack=False)
        check(not first.dup, "first delivery has DUP=0")
        c.close()           # no PUBACK, no DISCONNECT

        c = t.Client(b.port, "nodack")
        ack = c.connect("nodack", clean=False)
        check_eq(ack.session_present, 1, "session-present")
        again = c.expect_publish("dup/t", b"unacked", qos=1, ack=False)
        check(again.dup, "resent PUBLISH must have DUP=1: %r" % again)
        check_eq(again.pid, first.pid, "resent packet id")
        c.send(t.enc_ack(t.PUBACK, again.pid))
        c.expect_nothing(what="nothing after PUBACK of the resent message")
        c.disconnect()

        # Acknowledged: not resent on the next reconnect.
        c = t.Client(b.port, "nodack")
        c.connect("nodack", clean=False)
        c.expect_nothing(what="no resend after the message was acknowledged")
        c.disconnect()
        pub.disconnect()

t.run(main)
