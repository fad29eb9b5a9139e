#!/usr/bin/python3
# A second connection with the same client id takes over: the first connection is closed, the second works.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        first = t.connected(b.port, "dup-id")
        first.subscribe([("take/t", 0)])
        second = t.connected(b.port, "dup-id")
        first.expect_closed(what="taken over by a new connection with the same client id")
        second.subscribe([("take/t", 1)])
        second.publish("take/t", b"x", qos=1)
        second.expect_publish("take/t", b"x", qos=1)
        second.disconnect()

t.run(main)
