#!/usr/bin/python3
# Store-and-forward survives a gateway crash: with persistence true and the upstream down, a
# client publishes 50 QoS 1 messages to the gateway (each acknowledged, so each is in the log);
# the gateway is killed (SIGKILL) and started again on the same persistence directory while the
# upstream is still down; then the upstream (a real Mosquitto) comes up with a subscriber, and
# the restarted gateway's bridge delivers all 50, in order. QoS 0 messages published while the
# link was down are not kept (as for any offline session). An acl_file that gives anonymous
# clients write access only does not stop the bridge: its topic lines are its permissions.
import os, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from bridge_util import Upstream, bridge_lines, wait_connected, wait_log_count

N = 50


def main():
    up = Upstream(["user root"])
    pdir = tempfile.mkdtemp(prefix="tern-bridge-db-")
    acl = os.path.join(pdir, "acl")
    with open(acl, "w") as f:
        f.write("topic write gw/data/#\n")
    lines = ["listener {port} %s" % t.HOST, "allow_anonymous true", "persistence true",
             "persistence_location %s" % pdir, "acl_file %s" % acl]
    lines += bridge_lines("gw1", up.port, ["data/# out 1 gw/ site1/"])
    config = "\n".join(lines) + "\n"
    try:
        gw = t.Broker(config=config).start()
        wait_log_count(gw, "Bridge gw1: connecting to", 1, 5)
        pub = t.connected(gw.port, "gw-pub")
        for i in range(N):
            pub.publish("gw/data/seq", b"%d" % i, qos=1, pid=i + 1)
        pub.publish("gw/data/qos0", b"dropped", qos=0)
        pub.close()
        gw.proc.kill()
        gw.proc.wait(5)
        gw.stopped = True
        gw.returncode = "killed by the test"
        gw.logf.close()

        gw2 = t.Broker(config=config).start()
        try:
            if t.tern_only("recovered queue size in the log"):
                wait_log_count(gw2, "(%d messages queued from before)" % N, 1, 5)
            wait_log_count(gw2, "Bridge gw1: connecting to", 1, 5)
            up.start()
            sub = t.connected(up.port, "up-sub")
            sub.subscribe([("site1/#", 1)])
            wait_connected(gw2, "gw1", timeout=10)
            got = sub.collect(N, timeout=10)
            check_eq([p.payload.decode() for p in got], ["%d" % i for i in range(N)],
                     "the queued messages in order after the restart")
            check_eq(set(p.topic for p in got), {"site1/data/seq"}, "remote topics")
            sub.expect_nothing(timeout=1.0, what="the QoS 0 message published while down")
            t.note("%d messages queued while the upstream was down survived a SIGKILL of "
                   "the gateway and arrived in order" % N)
            sub.disconnect()
        finally:
            rc = gw2.stop()
            check(rc == 0, "gateway exited cleanly: %r" % rc)
    finally:
        up.stop()
        shutil.rmtree(pdir, ignore_errors=True)


t.run(main)
