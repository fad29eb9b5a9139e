#!/usr/bin/python3
# After a clean-0 reconnect, queued messages come before messages published after the reconnect, all in order.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import threading

def main():
    with t.Broker() as b:
        c = t.connected(b.port, "qlive", clean=False)
        c.subscribe([("ql/t", 1)])
        c.disconnect()
        pub = t.connected(b.port, "qlpub")
        for i in range(50):
            pub.publish("ql/t", b"%d" % i, qos=1, pid=i + 1)
        c = t.Client(b.port, "qlive")
        c.send(t.enc_connect("qlive", clean=False))
        # Publish more immediately, while the queue is being drained.
        for i in range(50, 100):
            pub.send(t.enc_publish("ql/t", b"%d" % i, qos=1, pid=i + 1))
        ack = c.recv(what="CONNACK")
        check_eq((ack.type, ack.rc, ack.session_present), (t.CONNACK, 0, 1), "CONNACK")
        got = c.collect(100, timeout=10)
        nums = [int(p.payload) for p in got]
        check_eq(nums, list(range(100)), "queued then live messages in order")
        c.disconnect()
        pub.disconnect()

t.run(main)
