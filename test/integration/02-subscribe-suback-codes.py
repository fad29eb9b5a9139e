#!/usr/bin/python3
# SUBACK carries one return code per filter: the requested QoS for valid filters; an invalid filter gets 0x80 or the connection is closed.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    with t.Broker() as b:
        c = t.connected(b.port, "suback")
        c.send(t.enc_subscribe(0x4243, [("a/b", 0), ("c/+", 1), ("d/#", 2), ("+/+/e", 1), ("#", 2)]))
        p = c.expect(t.SUBACK, 0x4243)
        check_eq(p.flags, 0, "SUBACK flags")
        check_eq(p.codes, [0, 1, 2, 1, 2], "SUBACK return codes")
        c.disconnect()

        for bad in ("a/#/b", "a+", "a/b#", "#/a", "a/+b"):
            c = t.connected(b.port, "badfilter")
            c.send(t.enc_subscribe(7, [("ok/x", 1), (bad, 1)]))
            try:
                p = c.recv_raw(t.RECV_TIMEOUT)
            except t.Closed:
                t.note("invalid filter %r: connection closed" % bad)
            except OSError:
                raise t.TestFailure("invalid filter %r: neither SUBACK nor close within %.1f s"
                                    % (bad, t.RECV_TIMEOUT))
            else:
                check(p.type == t.SUBACK, "invalid filter %r: expected SUBACK or close, got %r" % (bad, p))
                check_eq(p.pid, 7, "SUBACK packet id")
                check_eq(p.codes, [1, 0x80], "SUBACK codes for a valid and an invalid (%r) filter" % bad)
                t.note("invalid filter %r: SUBACK 0x80" % bad)
                c.disconnect()
        t.round_trip(b.port)

t.run(main)
