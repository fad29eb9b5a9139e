#!/usr/bin/python3
# Multibyte UTF-8 topics, spaces, empty levels and binary payloads (NUL bytes, empty) are routed unchanged.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


CASES = [
    ("température/salle 1", b"21.5"),
    ("日本/東京", b"\x00\x01\x02\x00"),
    ("a//b", b""),
    ("/leading", b"\xff" * 10),
    ("trailing/", b"x"),
    ("emoji/\U0001F600", b"smile"),
    ("x" * 1000, b"long topic"),
]

def main():
    with t.Broker() as b:
        s = t.connected(b.port, "topics")
        s.subscribe([("#", 1)])
        pub = t.connected(b.port, "topicpub")
        for topic, payload in CASES:
            pub.publish(topic, payload, qos=1)
            s.expect_publish(topic, payload, qos=1)
        # Exact subscription to a multibyte topic.
        e = t.connected(b.port, "exact")
        e.subscribe([("日本/東京", 0)])
        pub.publish("日本/東京", b"exact", qos=0)
        e.expect_publish("日本/東京", b"exact")
        for c in (s, pub, e):
            c.disconnect()

t.run(main)
