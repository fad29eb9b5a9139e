#!/usr/bin/python3
# Takeover of a clean-session-0 client keeps its session: CONNACK session-present 1, subscriptions kept.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        first = t.connected(b.port, "persist-take", clean=False)
        first.subscribe([("pt/t", 1)])
        second = t.Client(b.port, "second")
        ack = second.connect("persist-take", clean=False)
        check_eq(ack.session_present, 1, "session-present on takeover of a persistent session")
        first.expect_closed(what="taken over")
        pub = t.connected(b.port, "ptpub")
        pub.publish("pt/t", b"still-subscribed", qos=1)
        second.expect_publish("pt/t", b"still-subscribed", qos=1)
        second.disconnect()
        pub.disconnect()

t.run(main)
