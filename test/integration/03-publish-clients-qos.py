#!/usr/bin/python3
# mosquitto_pub -> mosquitto_sub at QoS 0, 1 and 2: every message arrives once, with its content.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        for q in (0, 1, 2):
            msgs = ["qos%d-message-%d" % (q, i) for i in range(10)]
            sub = t.Sub(b.port, "clients/q%d" % q, qos=q, count=len(msgs), timeout=10)
            t.run_pub(b.port, "clients/q%d" % q, qos=q, lines=msgs)
            got = sub.wait_messages(len(msgs), timeout=5)
            check_eq(sub.wait_exit(5), 0, "mosquitto_sub exit status at QoS %d" % q)
            check_eq(got, ["clients/q%d %s" % (q, m) for m in msgs], "messages at QoS %d" % q)
            # single -m publish too
            sub = t.Sub(b.port, "clients/single", qos=q, count=1, timeout=10)
            t.run_pub(b.port, "clients/single", "one message", qos=q)
            check_eq(sub.wait_messages(1), ["clients/single one message"], "single message at QoS %d" % q)
            sub.wait_exit(5)

t.run(main)
