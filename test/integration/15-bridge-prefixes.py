#!/usr/bin/python3
# A gateway broker bridged to a real Mosquitto 2.0.11 (build/ref) with prefixes both ways:
#   topic sensors/# out 1 gw/ site1/   local gw/sensors/X  -> remote site1/sensors/X
#   topic cmd/# in 1 gw/ site1/        remote site1/cmd/X  -> local gw/cmd/X
#   topic both/# both 1 "" ""          the same topic on both sides, no echo (try_private)
# What matches no topic line crosses in neither direction; QoS is kept up to the line's QoS;
# the bridge's local session id cannot be taken by a client; the Prometheus metrics show the
# link up.
import os, socket, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from bridge_util import Upstream, bridge_lines, wait_connected


def scrape(port):
    s = socket.create_connection((t.HOST, port), timeout=3)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data.decode()


def main():
    up = Upstream().start()
    try:
        http = t.free_port()
        lines = bridge_lines("gw1", up.port, ["sensors/# out 1 gw/ site1/",
                                              "cmd/# in 1 gw/ site1/",
                                              'both/# both 1 "" ""'])
        lines += ["listener %d %s" % (http, t.HOST), "protocol http"]
        with t.Broker(lines) as gw:
            wait_connected(gw, "gw1")
            time.sleep(0.3)       # the bridge's SUBSCRIBE reaches the upstream
            up_sub = t.connected(up.port, "up-sub")
            up_sub.subscribe([("#", 2)])
            gw_sub = t.connected(gw.port, "gw-sub")
            gw_sub.subscribe([("#", 2)])
            gw_pub = t.connected(gw.port, "gw-pub")
            up_pub = t.connected(up.port, "up-pub")

            # out: local -> remote with the prefix swapped, QoS 1 kept, QoS 2 capped at 1.
            gw_pub.publish("gw/sensors/temp", b"21.5", qos=1)
            up_sub.expect_publish("site1/sensors/temp", b"21.5", qos=1)
            gw_sub.expect_publish("gw/sensors/temp", b"21.5")
            gw_pub.publish("gw/sensors/hum", b"40", qos=2)
            up_sub.expect_publish("site1/sensors/hum", b"40", qos=1)
            gw_sub.expect_publish("gw/sensors/hum", b"40")

            # in: remote -> local.
            up_pub.publish("site1/cmd/reboot", b"now", qos=1)
            gw_sub.expect_publish("gw/cmd/reboot", b"now", qos=1)
            up_sub.expect_publish("site1/cmd/reboot", b"now")

            # Not covered by a line in that direction: stays where it was published.
            gw_pub.publish("gw/cmd/local-only", b"x", qos=1)
            gw_sub.expect_publish("gw/cmd/local-only", b"x")
            up_pub.publish("site1/sensors/remote-only", b"y", qos=1)
            up_sub.expect_publish("site1/sensors/remote-only", b"y")
            gw_pub.publish("other/t", b"z", qos=1)
            gw_sub.expect_publish("other/t", b"z")
            up_sub.expect_nothing(what="a message outside the bridge's topics")
            gw_sub.expect_nothing(what="a remote message outside the bridge's in topics")

            # both, no prefixes: each side sees a message once (no echo back).
            gw_pub.publish("both/a", b"from-gw", qos=1)
            up_sub.expect_publish("both/a", b"from-gw")
            gw_sub.expect_publish("both/a", b"from-gw")
            up_pub.publish("both/b", b"from-up", qos=1)
            gw_sub.expect_publish("both/b", b"from-up")
            up_sub.expect_publish("both/b", b"from-up")
            up_sub.expect_nothing(timeout=1.0, what="an echo of a both message")
            gw_sub.expect_nothing(timeout=1.0, what="an echo of a both message")

            if t.tern_only("local bridge session id refused, bridge metrics"):
                intruder = t.Client(gw.port, "intruder")
                intruder.connect("local.gw1", clean=True, expect_rc=2)
                intruder.close()
                m = scrape(http)
                check('tern_bridge_connected{bridge="gw1"} 1' in m, "metrics show the link up")
                check('tern_bridge_connects_total{bridge="gw1"} 1' in m, "one connect")
                check('tern_bridge_messages_received_total{bridge="gw1"} ' in m,
                      "messages from the remote counted")
            for c in (up_sub, gw_sub, gw_pub, up_pub):
                c.disconnect()
    finally:
        up.stop()


t.run(main)
