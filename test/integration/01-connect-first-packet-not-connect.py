#!/usr/bin/python3
# A connection whose first packet is not CONNECT is closed.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        for name, data in (("PINGREQ", t.PINGREQ_PKT),
                           ("PUBLISH", t.enc_publish("x/y", b"early")),
                           ("SUBSCRIBE", t.enc_subscribe(1, [("#", 0)]))):
            c = t.Client(b.port, "first-" + name)
            c.send(data)
            c.expect_closed(what="%s before CONNECT" % name)
        t.round_trip(b.port)

t.run(main)
