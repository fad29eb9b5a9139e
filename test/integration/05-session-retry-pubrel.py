#!/usr/bin/python3
# QoS 2 retries while connected reach the PUBREL step too (retry_interval 1,
# retry_max_interval 2, max_delivery_attempts 2): a subscriber that answers PUBLISH with
# PUBREC but withholds PUBCOMP gets the PUBREL again with the same packet id after ~1 s, then
# ~2 s, and again beyond max_delivery_attempts (the message was delivered at PUBREC, so the
# release is never dropped and nothing is dead-lettered); once PUBCOMP arrives the resends stop
# and the window frees for the next message.
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

SLACK = 0.2


def main():
    if not t.tern_only("PUBREL retries while connected"):
        return
    with t.Broker(extra=["retry_interval 1", "retry_max_interval 2",
                         "max_delivery_attempts 2", "max_inflight_messages 1",
                         "dead_letter_topic dlq"]) as b:
        watch = t.connected(b.port, "watch")
        watch.subscribe([("dlq/#", 1)])
        sub = t.connected(b.port, "slow")
        sub.subscribe([("q/#", 2)])
        pub = t.connected(b.port, "pub")
        pub.publish("q/1", b"m1", qos=2)
        p = sub.expect_publish("q/1", b"m1", qos=2, ack=False)
        sub.send(t.enc_ack(t.PUBREC, p.pid))
        sub.expect(t.PUBREL, p.pid)
        times = [time.monotonic()]
        for n in range(3):
            sub.expect(t.PUBREL, p.pid, timeout=4)
            times.append(time.monotonic())
        gaps = [times[i + 1] - times[i] for i in range(3)]
        t.note("PUBREL resend gaps: %s" % ", ".join("%.2f s" % g for g in gaps))
        check(0.75 - SLACK <= gaps[0] <= 1.25 + SLACK, "first PUBREL resend after ~1 s: %.2f" % gaps[0])
        check(1.5 - SLACK <= gaps[1] <= 2.5 + SLACK, "second after ~2 s: %.2f" % gaps[1])
        check(1.5 - SLACK <= gaps[2] <= 2.5 + SLACK, "third after ~2 s (capped): %.2f" % gaps[2])
        # The window of one is still held by the unreleased id: q/2 waits.
        pub.publish("q/2", b"m2", qos=2, pid=2)
        sub.send(t.enc_ack(t.PUBCOMP, p.pid))
        sub.expect_publish("q/2", b"m2", qos=2, timeout=4)
        sub.expect_nothing(timeout=2.6, what="no PUBREL after PUBCOMP")
        watch.expect_nothing(timeout=0.2, what="no dead letter for a delivered message")
        for c in (sub, pub, watch):
            c.disconnect()

t.run(main)
