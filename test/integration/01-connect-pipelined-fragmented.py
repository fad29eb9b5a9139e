#!/usr/bin/python3
# Packets split across many writes (byte by byte) and several packets in one write are decoded correctly.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import time

def main():
    with t.Broker() as b:
        # CONNECT + SUBSCRIBE + PUBLISH + PINGREQ in a single write.
        c = t.Client(b.port, "pipelined")
        c.send(t.enc_connect("pipelined") + t.enc_subscribe(3, [("pipe/t", 1)])
               + t.enc_publish("pipe/t", b"self", qos=1, pid=4) + t.PINGREQ_PKT)
        check_eq(c.recv(what="CONNACK").type, t.CONNACK, "first packet")
        c.expect(t.SUBACK, 3)
        c.expect(t.PUBACK, 4)
        c.expect(t.PINGRESP)
        c.expect_publish("pipe/t", b"self", qos=1)

        # A PUBLISH (and a CONNECT) sent one byte at a time.
        f = t.Client(b.port, "fragmented")
        for byte in t.enc_connect("fragmented"):
            f.send(bytes([byte]))
            time.sleep(0.002)
        check_eq(f.recv(what="CONNACK").rc, 0, "CONNACK after a byte-by-byte CONNECT")
        payload = bytes(range(256)) * 2          # remaining length needs 2 bytes
        for byte in t.enc_publish("pipe/t", payload, qos=1, pid=9):
            f.send(bytes([byte]))
        f.expect(t.PUBACK, 9)
        c.expect_publish("pipe/t", payload, qos=1)
        f.disconnect()
        c.disconnect()

t.run(main)
