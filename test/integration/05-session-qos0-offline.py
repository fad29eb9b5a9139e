#!/usr/bin/python3
# QoS 0 messages are not queued for an offline client by default, and are with queue_qos0_messages true.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def scenario(extra, expect_queued):
    with t.Broker(extra) as b:
        c = t.connected(b.port, "q0", clean=False)
        c.subscribe([("q0/t", 1)])
        c.disconnect()
        pub = t.connected(b.port, "q0pub")
        for i in range(3):
            pub.publish("q0/t", b"zero%d" % i, qos=0)
        pub.publish("q0/t", b"one", qos=1, pid=1)
        c = t.Client(b.port, "q0")
        c.connect("q0", clean=False)
        c.subscribe([("q0/sync", 1)], pid=2)
        got = [(p.payload, p.qos) for p in t.marker_sync(c, pub, "q0/sync")]
        want = ([(b"zero%d" % i, 0) for i in range(3)] if expect_queued else []) + [(b"one", 1)]
        check_eq(got, want, "offline messages delivered (config %r)" % (extra,))
        c.disconnect()
        pub.disconnect()

def main():
    scenario([], False)
    scenario(["queue_qos0_messages true"], True)

t.run(main)
