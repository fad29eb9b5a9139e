#!/usr/bin/python3
# A CONNECT with the password flag but no username flag is closed.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.Client(b.port)
        # flags: clean session + password flag, payload: client id + password
        body = t.enc_str("MQTT") + bytes([4, 0x42]) + b"\x00\x3c" + t.enc_str("pwonly") + t.enc_str("secret")
        c.send(t.packet(0x10, body))
        c.expect_closed(what="password flag without username flag")
        t.round_trip(b.port)

t.run(main)
