#!/usr/bin/python3
# message_size_limit 1000: a 1000-byte payload is delivered, a 1001-byte one is not (Tern closes the publisher, Mosquitto drops).
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker(["message_size_limit 1000"]) as b:
        sub = t.connected(b.port, "limsub")
        sub.subscribe([("lim/t", 1), ("lim/sync", 1)])
        pub = t.connected(b.port, "limpub")
        pub.publish("lim/t", b"a" * 1000, qos=1, pid=1)
        sub.expect_publish("lim/t", b"a" * 1000, qos=1)
        for q in (0, 1):
            pub = t.connected(b.port, "limpub%d" % q)
            pub.send(t.enc_publish("lim/t", b"b" * 1001, qos=q, pid=2))
            if q == 1:
                # Either a PUBACK (dropped, Mosquitto) or close (Tern); wait for one of them so the
                # broker has handled the publish before the marker.
                try:
                    p = pub.recv_raw(t.RECV_TIMEOUT)
                    check(p.type == t.PUBACK, "after oversize QoS 1 publish: %r" % p)
                    t.note("oversize QoS 1 publish: PUBACK (dropped)")
                except t.Closed:
                    t.note("oversize QoS 1 publish: connection closed")
            else:
                try:
                    pub.ping()
                    t.note("oversize QoS 0 publish: connection kept (dropped)")
                except t.TestFailure:
                    t.note("oversize QoS 0 publish: connection closed")
            marker = t.connected(b.port, "limmark")
            got = t.marker_sync(sub, marker, "lim/sync")
            check(not got, "oversize (1001 bytes > message_size_limit 1000) QoS %d publish delivered: %r" % (q, got))
            marker.disconnect()
        t.round_trip(b.port)

t.run(main)
