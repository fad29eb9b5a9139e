#!/usr/bin/python3
# A dead link is noticed by keepalive: the bridge sends PINGREQ every keepalive_interval (1 s
# here); when the upstream (a real Mosquitto) is frozen with SIGSTOP, no PINGRESP comes and the
# gateway drops the link after 1.5 x keepalive_interval of silence, logs it, and keeps trying;
# after SIGCONT it reconnects and messages published meanwhile (QoS 1) arrive.
import os, signal, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from bridge_util import Upstream, bridge_lines, wait_connected, wait_log_count


def main():
    up = Upstream().start()
    try:
        lines = bridge_lines("gw1", up.port, ["ka/# out 1"])
        lines = [l if not l.startswith("keepalive_interval") else "keepalive_interval 1"
                 for l in lines]
        with t.Broker(lines) as gw:
            wait_connected(gw, "gw1")
            time.sleep(2.5)     # two PINGREQ/PINGRESP rounds: a live link stays up
            check("connection to" not in gw.log(), "the link stays up while answered")
            sub = t.connected(up.port, "up-sub", clean=False)
            sub.subscribe([("ka/#", 1)])
            up.proc.send_signal(signal.SIGSTOP)
            frozen = time.monotonic()
            try:
                wait_log_count(gw, "Bridge gw1: connection to", 1, 6)
                took = time.monotonic() - frozen
                t.note("link to the frozen upstream dropped after %.1f s" % took)
                check(took < 4.0, "dropped within 1.5 x keepalive plus slack: %.1f s" % took)
                check("keepalive expired" in gw.log(), "the reason is logged")
                pub = t.connected(gw.port, "gw-pub")
                pub.publish("ka/x", b"while-frozen", qos=1)
                pub.disconnect()
            finally:
                up.proc.send_signal(signal.SIGCONT)
            wait_connected(gw, "gw1", n=2, timeout=15)
            sub.close()
            sub = t.connected(up.port, "up-sub", clean=False)
            sub.expect_publish("ka/x", b"while-frozen", timeout=5)
            sub.disconnect()
    finally:
        up.stop()


t.run(main)
