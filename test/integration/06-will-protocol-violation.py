#!/usr/bin/python3
# The will is published when the broker closes the connection for a protocol violation.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


# (name, bytes sent after CONNACK, Tern-only). MQTT-3.1.2-8: the will is published when the
# server closes the connection because of a protocol error. Mosquitto 2.0.11 drops the will when
# the violation is a second CONNECT (it frees the will on that error path), so that case is Tern-only.
CASES = [
    ("PUBLISH QoS 3", b"\x36\x05\x00\x01a\x00\x01", False),
    ("reserved packet type 0", b"\x00\x00", False),
    ("SUBSCRIBE with flags 0", b"\x80\x06\x00\x01\x00\x01a\x00", False),
    ("second CONNECT", t.enc_connect("violator"), True),
]

def main():
    with t.Broker() as b:
        watcher = t.connected(b.port, "watcher")
        watcher.subscribe([("will/#", 1)])
        for i, (name, data, tern_only) in enumerate(CASES):
            if tern_only and not t.tern_only("will after a protocol violation: %s" % name):
                continue
            c = t.connected(b.port, "violator", will=("will/violator", b"violation%d" % i, 1, False))
            c.send(data)
            c.expect_closed(what=name)
            watcher.expect_publish("will/violator", b"violation%d" % i, qos=1)
        watcher.disconnect()

t.run(main)
