#!/usr/bin/python3
# An MQTT 3.1 client (protocol name MQIsdp, level 3) is accepted.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port)
        c.connect("client31", proto_name="MQIsdp", level=3)
        c.subscribe([("v31/t", 1)])
        c.publish("v31/t", b"hello", qos=1, pid=5)
        c.expect_publish("v31/t", b"hello", qos=1)
        c.disconnect()

t.run(main)
