#!/usr/bin/python3
# PINGREQ gets PINGRESP.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "pinger")
        for _ in range(3):
            c.send(t.PINGREQ_PKT)
            p = c.recv(what="PINGRESP")
            check_eq(p.type, t.PINGRESP, "packet type")
            check_eq((p.flags, p.body), (0, b""), "PINGRESP flags and body")
        c.disconnect()

t.run(main)
