#!/usr/bin/python3
# A subscriber that closes its socket in the middle of a large delivery does not disturb the broker.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import os

def main():
    payload = os.urandom(4 * 1024 * 1024)
    with t.Broker() as b:
        quitters = []
        for i in range(5):
            q = t.connected(b.port, "quitter%d" % i)
            q.subscribe([("big/#", 1)])
            quitters.append(q)
        pub = t.connected(b.port, "bigpub")
        for i in range(3):
            pub.publish("big/%d" % i, payload, qos=1, pid=i + 1)
            # Read a little, then vanish mid-packet (with unread data: the kernel sends RST).
            q = quitters[i]
            q.sock.recv(1000)
            q.close()
        for q in quitters[3:]:
            q.sock.setsockopt(t.socket.SOL_SOCKET, t.socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            q.close()
        t.round_trip(b.port, "after")
        check(b.alive(), "broker died")
        pub.disconnect()

t.run(main)
