#!/usr/bin/python3
# 200 concurrent subscribers each get all 20 QoS 1 messages of a fan-out; the broker then exits cleanly on SIGTERM with them connected.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time

N_CLIENTS = 200
N_MSGS = 20

def main():
    with t.Broker() as b:
        subs = []
        for i in range(N_CLIENTS):
            c = t.Client(b.port, "fan%d" % i)
            c.send(t.enc_connect("fan%d" % i) + t.enc_subscribe(1, [("fan/+", 1)]))
            subs.append(c)
        for c in subs:
            check_eq(c.recv(what="CONNACK").rc, 0, "%s CONNACK" % c.name)
            c.expect(t.SUBACK, 1)
        pub = t.connected(b.port, "fanpub")
        for i in range(N_MSGS):
            pub.publish("fan/x", b"%d" % i, qos=1, pid=i + 1)
        deadline = time.monotonic() + 20
        for c in subs:
            got = c.collect(N_MSGS, timeout=max(0.5, deadline - time.monotonic()))
            check_eq([p.payload for p in got], [b"%d" % i for i in range(N_MSGS)],
                     "%s: fan-out messages in order" % c.name)
        # Leave them connected: leaving the block sends SIGTERM and requires exit status 0.
        # One more message in flight for everyone, unacknowledged.
        pub.publish("fan/x", b"in-flight", qos=1, pid=100)

t.run(main)
