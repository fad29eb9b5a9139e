#!/usr/bin/python3
# Wildcard delivery table with Paho subscribers: + matches one level, # any (including the parent), neither matches $-topics at the first level.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import threading, time
import paho.mqtt.client as mqtt

TOPICS = ["a", "a/b", "a/b/c", "a/c", "b/b", "/x", "a/", "$foo/bar", "$foo"]
EXPECTED = {
    "#":        ["a", "a/b", "a/b/c", "a/c", "b/b", "/x", "a/"],
    "+":        ["a"],
    "a/+":      ["a/b", "a/c", "a/"],
    "a/#":      ["a", "a/b", "a/b/c", "a/c", "a/"],
    "+/+":      ["a/b", "a/c", "b/b", "/x", "a/"],
    "+/b":      ["a/b", "b/b"],
    "a/+/c":    ["a/b/c"],
    "/+":       ["/x"],
    "+/#":      ["a", "a/b", "a/b/c", "a/c", "b/b", "/x", "a/"],
    "$foo/#":   ["$foo/bar", "$foo"],
    "$foo/+":   ["$foo/bar"],
    "+/bar":    [],
    "a/b":      ["a/b"],
}

def main():
    with t.Broker() as b:
        subs = {}
        for i, flt in enumerate(EXPECTED):
            got = []
            ready = threading.Event()
            c = mqtt.Client(client_id="wild%d" % i, clean_session=True)
            c.on_message = lambda cl, ud, m, got=got: got.append(m.topic)
            c.on_subscribe = lambda cl, ud, mid, q, ready=ready: ready.set()
            c.connect("127.0.0.1", b.port, keepalive=30)
            c.loop_start()
            c.subscribe(flt, qos=1)
            check(ready.wait(5), "no SUBACK for %r within 5 s" % flt)
            subs[flt] = (c, got)
        pub = t.connected(b.port, "wildpub")
        for topic in TOPICS:
            pub.publish(topic, b"m", qos=1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(len(subs[f][1]) >= len(EXPECTED[f]) for f in EXPECTED):
                break
            time.sleep(0.02)
        time.sleep(0.3)   # let any extra (wrong) delivery arrive
        errors = []
        for flt, want in EXPECTED.items():
            got = subs[flt][1]
            if sorted(got) != sorted(want):
                errors.append("filter %r: expected %r, got %r" % (flt, sorted(want), sorted(got)))
        for c, _ in subs.values():
            c.disconnect()      # wakes the network thread, so loop_stop() returns at once
        for c, _ in subs.values():
            c.loop_stop()
        pub.disconnect()
        check(not errors, "wildcard delivery:\n  " + "\n  ".join(errors))

t.run(main)
