#!/usr/bin/python3
# A bridge over TLS to a real Mosquitto 2.0.11 with a TLS listener (certificates made at run
# time): with bridge_cafile naming the CA that signed the upstream's certificate, messages
# cross (address localhost, which the certificate names); with a CA that did not sign it, or
# with an address the certificate does not name (127.0.0.1), every attempt fails, is logged and
# counted, and nothing crosses; bridge_insecure true accepts the unnamed address. A missing
# bridge_cafile stops start-up with the connection's file:line.
import os, shutil, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq
from sec_util import make_ca, make_cert
from bridge_util import Upstream, wait_connected, wait_log_count


def bridge(name, host, port, cafile, extra=()):
    return ["connection %s" % name, "address %s:%d" % (host, port), "remote_clientid %s" % name,
            "restart_timeout 1 1", "bridge_cafile %s" % cafile, "topic tls/# out 1"] + list(extra)


def crosses(gw, up_port, topic):
    sub = t.connected(up_port, "up-sub-" + topic.replace("/", "-"))
    sub.subscribe([("tls/#", 1)])
    pub = t.connected(gw.port, "gw-pub")
    pub.publish(topic, b"over-tls", qos=1)
    sub.expect_publish(topic, b"over-tls", qos=1)
    pub.disconnect()
    sub.disconnect()


def main():
    d = tempfile.mkdtemp(prefix="tern-bridge-tls-")
    try:
        ca = make_ca(d, "ca")
        other = make_ca(d, "other")
        make_cert(d, "server", ca="ca")
        tls_port = t.free_port()
        up = Upstream(["user root", "listener %d %s" % (tls_port, t.HOST), "cafile %s" % ca,
                       "certfile %s/server.crt" % d, "keyfile %s/server.key" % d]).start()
        t.wait_port(tls_port, 5)
        try:
            with t.Broker(bridge("good", "localhost", tls_port, ca)) as gw:
                wait_connected(gw, "good")
                time.sleep(0.2)
                crosses(gw, up.port, "tls/good")
            with t.Broker(bridge("insecure", "127.0.0.1", tls_port, ca,
                                 ["bridge_insecure true"])) as gw:
                wait_connected(gw, "insecure")
                time.sleep(0.2)
                crosses(gw, up.port, "tls/insecure")
            for name, host, cafile, why in (("wrongca", "localhost", other, "verif"),
                                            ("wrongname", "127.0.0.1", ca, "verif")):
                with t.Broker(bridge(name, host, tls_port, cafile)) as gw:
                    wait_log_count(gw, "Bridge %s: connecting to" % name, 2, 10)
                    log = gw.log()
                    check("Bridge %s connected" % name not in log, "%s: no link" % name)
                    check(why in log.lower(), "%s: the log says why: %s" % (name, log[-600:]))
                    t.note([l for l in log.splitlines() if "TLS handshake" in l][0])
            rc, out = t.run_broker_to_exit(["-c", _write(d, "bad.conf", "\n".join(
                ["listener %d 127.0.0.1" % t.free_port()] +
                bridge("nofile", "localhost", tls_port, d + "/missing.crt")) + "\n")])
            check(rc != 0, "start-up refused with a missing bridge_cafile")
            check("bad.conf:2: connection nofile: bridge_cafile %s/missing.crt: cannot open"
                  % d in out, "file:line error: %r" % out)
        finally:
            up.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _write(d, name, text):
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


t.run(main)
