#!/usr/bin/python3
# dead_letter_topic dlq: a QoS 1 message dropped because an offline session's queue is full
# (max_queued_messages 1) is published on dlq/queue-full/TOPIC with its payload and QoS; a
# dead letter that is itself dropped is not dead-lettered again (no loops).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    if not t.tern_only("dead_letter_topic"):
        return
    with t.Broker(extra=["dead_letter_topic dlq", "max_queued_messages 1"]) as b:
        for cid, f in (("worker", "jobs/#"), ("dlq-offline", "dlq/#")):
            c = t.connected(b.port, cid, clean=False)
            c.subscribe([(f, 1)])
            c.disconnect()
        watch = t.connected(b.port, "watch")
        watch.subscribe([("dlq/#", 2)])
        pub = t.connected(b.port, "pub")
        pub.publish("jobs/a", b"first", qos=1, pid=1)     # queued for worker
        pub.publish("jobs/a", b"second", qos=1, pid=2)    # worker's queue is full
        p = watch.expect_publish("dlq/queue-full/jobs/a", b"second", qos=1, retain=False)
        # dlq-offline's queue took that dead letter; the next one overflows it and must not
        # come back as dlq/queue-full/dlq/...
        pub.publish("jobs/a", b"third", qos=1, pid=3)
        watch.expect_publish("dlq/queue-full/jobs/a", b"third", qos=1)
        watch.expect_nothing(timeout=0.5, what="no dead letter of a dead letter")
        w = t.connected(b.port, "worker", clean=False)
        w.expect_publish("jobs/a", b"first")
        w.expect_nothing(timeout=0.3, what="only the queued message")
        for c in (watch, pub, w):
            c.disconnect()

t.run(main)
