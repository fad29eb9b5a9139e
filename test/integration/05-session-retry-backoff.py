#!/usr/bin/python3
# Retries while connected (retry_interval 1, retry_max_interval 2, max_delivery_attempts 3):
# a subscriber that withholds PUBACK gets the QoS 1 message again with DUP and the same packet
# id after ~1 s, then ~2 s (doubled, +-25% jitter); after the third send it is dropped (logged
# and counted as reason="max-attempts") and published on dlq/max-attempts/r/1
# (dead_letter_topic dlq), the window frees, and the next message flows; an acknowledged
# message is never resent.
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

SLACK = 0.2


def main():
    if not t.tern_only("retry_interval backoff and max_delivery_attempts"):
        return
    with t.Broker(extra=["retry_interval 1", "retry_max_interval 2",
                         "max_delivery_attempts 3", "max_inflight_messages 1",
                         "dead_letter_topic dlq"]) as b:
        watch = t.connected(b.port, "watch")
        watch.subscribe([("dlq/#", 1)])
        sub = t.connected(b.port, "slow")
        sub.subscribe([("r/#", 1)])
        pub = t.connected(b.port, "pub")
        pub.publish("r/1", b"m1", qos=1)
        first = sub.expect_publish("r/1", b"m1", qos=1, ack=False)
        check(not first.dup, "first send has DUP 0")
        times = [time.monotonic()]
        for n in range(2):
            p = sub.expect_publish("r/1", b"m1", qos=1, ack=False, timeout=4)
            times.append(time.monotonic())
            check(p.dup, "resend %d has DUP 1" % (n + 1))
            check_eq(p.pid, first.pid, "resend %d keeps the packet id" % (n + 1))
        gaps = [times[1] - times[0], times[2] - times[1]]
        t.note("resend gaps: %.2f s, %.2f s" % tuple(gaps))
        check(0.75 - SLACK <= gaps[0] <= 1.25 + SLACK, "first resend after ~1 s: %.2f" % gaps[0])
        check(1.5 - SLACK <= gaps[1] <= 2.5 + SLACK, "second resend after ~2 s: %.2f" % gaps[1])
        # Third send was the last: at its due time the message is dropped and m2 takes the
        # single-message window.
        pub.publish("r/2", b"m2", qos=1, pid=2)
        p = sub.expect_publish(timeout=4, ack=False)
        check_eq((p.topic, p.payload, p.dup), ("r/2", b"m2", False), "next message after the drop")
        check(time.monotonic() - times[2] >= 1.5 - SLACK, "dropped only at its due time")
        watch.expect_publish("dlq/max-attempts/r/1", b"m1", qos=1)
        sub.ack(p)
        sub.expect_nothing(timeout=1.6, what="no resend of an acknowledged message")
        check(re.search(r"not acknowledged after 3 sends", b.log()) is not None,
              "drop logged: %s" % b.log()[-400:])
        for c in (sub, pub, watch):
            c.disconnect()

t.run(main)
