#!/usr/bin/python3
# No loops when both ends carry the same topics: gateway A bridges "topic loop/# both 1" to a
# second Tern, B. With try_private true (the default) B knows the connection is a bridge and
# does not send A's own messages back, and A does not send what came from B back out: a message
# published once, on either side, is seen exactly once by a subscriber on each broker, and
# nothing more arrives over the next seconds. With try_private false B echoes A's messages (it
# cannot tell a bridge from a client); A delivers the echo locally but never forwards it again:
# two copies at A, one at B, then silence.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from bridge_util import bridge_lines, wait_connected

WATCH = 1.5


def count(sub, topic):
    """PUBLISHes on topic arriving at sub within WATCH seconds."""
    n = 0
    deadline = time.monotonic() + WATCH
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return n
        try:
            p = sub.recv_raw(left)
        except Exception:
            return n
        if p.type == t.PUBLISH:
            sub.ack(p)
            if p.topic == topic:
                n += 1


def main():
    with t.Broker() as b:
        for private in (True, False):
            name = "a%s" % ("p" if private else "n")
            lines = bridge_lines(name, b.port, ["loop/# both 1"],
                                 ["try_private %s" % ("true" if private else "false")])
            with t.Broker(lines) as a:
                wait_connected(a, name)
                time.sleep(0.3)
                sub_a = t.connected(a.port, "sub-a")
                sub_a.subscribe([("loop/#", 1)])
                sub_b = t.connected(b.port, "sub-b")
                sub_b.subscribe([("loop/#", 1)])
                pub_a = t.connected(a.port, "pub-a")
                pub_b = t.connected(b.port, "pub-b")
                pub_a.publish("loop/from-a", b"1", qos=1)
                n_a, n_b = count(sub_a, "loop/from-a"), count(sub_b, "loop/from-a")
                t.note("try_private %s: published once at A, seen %d at A and %d at B in %.0f s"
                       % (private, n_a, n_b, WATCH))
                check_eq(n_b, 1, "copies at B")
                check_eq(n_a, 1 if private else 2, "copies at A")
                pub_b.publish("loop/from-b", b"2", qos=1)
                n_a, n_b = count(sub_a, "loop/from-b"), count(sub_b, "loop/from-b")
                t.note("try_private %s: published once at B, seen %d at A and %d at B"
                       % (private, n_a, n_b))
                check_eq((n_a, n_b), (1, 1), "copies at A and B")
                for c in (sub_a, sub_b, pub_a, pub_b):
                    c.disconnect()


t.run(main)
