#!/usr/bin/python3
# SIGHUP re-reads the config: a new max_queued_messages takes effect without dropping
# connected clients; a config with an error is rejected (logged with file:line) and the
# running settings stay.
import os, sys, signal, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def queued_after_offline(b, pub, cid, n, first_pid):
    """A persistent client misses n QoS 1 messages; returns how many it gets back."""
    c = t.connected(b.port, cid, clean=False)
    c.subscribe([(cid + "/t", 1)])
    gone = "Client %s disconnected." % cid
    before = b.log().count(gone)
    c.disconnect()
    t.settle_log(b, gone, before)      # offline before the publishes, not after the first
    for i in range(n):
        pub.publish(cid + "/t", b"%d" % i, qos=1, pid=first_pid + i)
    c = t.Client(b.port, cid)
    c.connect(cid, clean=False)
    c.subscribe([(cid + "/sync", 1)], pid=2)
    got = t.marker_sync(c, pub, cid + "/sync")
    c.disconnect()
    return len(got)


def reload(b, text):
    with open(b.conf_path, "w") as f:
        f.write(text)
    b.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)


def main():
    t.tern_only("SIGHUP reload of limits")
    with t.Broker(["max_queued_messages 2"]) as b:
        base = "listener %d 127.0.0.1\nallow_anonymous true\n" % b.port
        pub = t.connected(b.port, "rl-pub")
        check_eq(queued_after_offline(b, pub, "rl1", 6, 1), 2, "queued with max_queued_messages 2")
        reload(b, base + "max_queued_messages 5\n")
        check_eq(queued_after_offline(b, pub, "rl2", 6, 100), 5,
                 "queued after SIGHUP set max_queued_messages 5")
        reload(b, base + "max_queued_messages 3\nno_such_option 1\n")
        check(b.alive(), "broker died on a bad config at SIGHUP")
        check("broker.conf:4:" in b.log(), "reload error names file:line; log:\n" + b.log())
        check_eq(queued_after_offline(b, pub, "rl3", 6, 200), 5,
                 "bad config at SIGHUP keeps max_queued_messages 5")
        pub.publish("rl-pub/alive", b"x", qos=1, pid=300)
        pub.disconnect()

t.run(main)
