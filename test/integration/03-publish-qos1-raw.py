#!/usr/bin/python3
# Raw QoS 1 publish: PUBACK carries the packet id; the subscriber gets the message at QoS 1.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        sub = t.connected(b.port, "q1sub")
        sub.subscribe([("q1/t", 1)])
        pub = t.connected(b.port, "q1pub")
        for pid in (0x0102, 1, 0xFFFF):
            pub.send(t.enc_publish("q1/t", b"id%d" % pid, qos=1, pid=pid))
            p = pub.expect(t.PUBACK, pid)
            check_eq((p.flags, len(p.body)), (0, 2), "PUBACK flags and length")
            s = sub.expect_publish("q1/t", b"id%d" % pid, qos=1, retain=False, ack=False)
            check(not s.dup, "first delivery has DUP=0")
            check(s.pid != 0, "outbound QoS 1 packet id is non-zero")
            sub.send(t.enc_ack(t.PUBACK, s.pid))
        sub.disconnect()
        pub.disconnect()

t.run(main)
