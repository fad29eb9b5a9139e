#!/usr/bin/python3
# Persistence across a clean restart (SIGTERM): queued QoS 1 and QoS 2 messages, the QoS 2
# message exactly once, the retained message and the subscription survive. An idle broker writes
# nothing to its log. A second broker on the same persistence_location is refused at start.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    if not t.tern_only("Tern's persistence log (tern.db, tern.lock)"):
        return
    b = t.Broker()
    db = os.path.join(b.dir, "db")
    with open(b.conf_path, "a") as f:
        f.write("persistence true\npersistence_location %s\n" % db)
    with b:
        sub = t.connected(b.port, "pr-sub", clean=False)
        sub.subscribe([("pr/#", 2)])
        sub.disconnect()
        pub = t.connected(b.port, "pr-pub")
        pub.publish("pr/one", b"q1", qos=1, pid=1)
        pub.send(t.enc_publish("pr/two", b"q2", qos=2, pid=2))
        pub.expect(t.PUBREC, 2)
        pub.send(t.enc_ack(t.PUBREL, 2))
        pub.expect(t.PUBCOMP, 2)
        pub.publish("pr/keep", b"retained", qos=1, retain=True, pid=3)
        pub.disconnect()

        # A second broker on the same directory must not start.
        other = os.path.join(b.dir, "other.conf")
        with open(other, "w") as f:
            f.write("listener %d 127.0.0.1\npersistence true\npersistence_location %s\n"
                    % (t.free_port(), db))
        rc, out = t.run_broker_to_exit(["-c", other])
        check(rc != 0, "a second broker on the same store started (status %r)" % rc)
        check("in use by another broker" in out, "refusal names the lock: %r" % out)

        # Idle: nothing is written.
        log = os.path.join(db, "tern.db")
        time.sleep(0.3)
        before = os.stat(log)
        time.sleep(2.5)
        after = os.stat(log)
        check_eq((after.st_size, after.st_mtime_ns), (before.st_size, before.st_mtime_ns),
                 "tern.db (size, mtime) over 2.5 s of idleness")

        b.stop()
        check_eq(b.returncode, 0, "exit status after SIGTERM")
        b.log_path = os.path.join(b.dir, "broker-2.log")
        b.stopped = False
        b.returncode = None
        b.start()
        check("queued or in-flight" in b.log(), "the load is logged: %r" % b.log())
        sub = t.Client(b.port, "pr-sub")
        check_eq(sub.connect("pr-sub", clean=False).session_present, 1, "session present")
        got = {}
        for _ in range(3):
            p = sub.recv(what="a queued message")
            check(p.type == t.PUBLISH, "expected PUBLISH, got %r" % p)
            got[p.topic] = (p.payload, p.qos)
            sub.ack(p)
        check_eq(got, {"pr/one": (b"q1", 1), "pr/two": (b"q2", 2), "pr/keep": (b"retained", 1)},
                 "queued messages")
        sub.expect_nothing(what="no second copy of the QoS 2 message")
        # The subscription survived: a new publish arrives without SUBSCRIBE.
        pub = t.connected(b.port, "pr-pub2")
        pub.publish("pr/after", b"new", qos=1, pid=4)
        sub.expect_publish("pr/after", b"new", qos=1)
        # The retained message survived.
        r = t.connected(b.port, "pr-ret")
        r.subscribe([("pr/keep", 0)])
        r.expect_publish("pr/keep", b"retained", retain=True)
        for c in (sub, pub, r):
            c.disconnect()

t.run(main)
