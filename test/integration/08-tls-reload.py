#!/usr/bin/env python3
"""SIGHUP reloads a TLS listener's certificate: after the files are replaced (a renewed
certificate with another CN), new connections get the new certificate while a connection made
before keeps working; a broken file at the next SIGHUP is logged and the certificate in use
stays."""

import os
import shutil
import signal
import ssl
import tempfile

from sec_util import make_ca, make_cert, tls_listener, tls_socket, wait_log
from tern_test import Client, Broker, check_eq, note, run


def served_cn(port, cafile):
    s = tls_socket(port, cafile=cafile)
    cn = dict(x[0] for x in s.getpeercert()["subject"])["commonName"]
    s.close()
    return cn


def tls_client(port, cafile, name):
    s = tls_socket(port, cafile=cafile)
    c = Client.__new__(Client)
    c.name, c.sock, c.buf, c.eof, c.pending = name, s, bytearray(), False, []
    return c


def body():
    d = tempfile.mkdtemp(prefix="tern-tlsrl-")
    make_ca(d, "ca")
    make_cert(d, "old", cn="old.example")
    make_cert(d, "new", cn="new.example")
    ca = os.path.join(d, "ca.crt")
    for ext in ("crt", "key"):
        shutil.copy(os.path.join(d, "old." + ext), os.path.join(d, "server." + ext))
    with Broker(config="\n".join(tls_listener("{port}", d) + ["allow_anonymous true"]) + "\n") as b:
        check_eq(served_cn(b.port, ca), "old.example", "certificate before the reload")
        early = tls_client(b.port, ca, "early")
        early.connect("early")
        early.subscribe([("t", 1)])
        for ext in ("crt", "key"):
            shutil.copy(os.path.join(d, "new." + ext), os.path.join(d, "server." + ext))
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "reloaded certfile")
        check_eq(served_cn(b.port, ca), "new.example", "certificate after the reload")
        late = tls_client(b.port, ca, "late")
        late.connect("late")
        late.publish("t", b"across", qos=1)
        early.expect_publish("t", b"across", qos=1)      # the old connection still works
        with open(os.path.join(d, "server.crt"), "w") as f:
            f.write("not a certificate\n")
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "TLS reload failed, keeping the certificate in use")
        check_eq(served_cn(b.port, ca), "new.example", "certificate after a failed reload")
        early.disconnect()
        late.disconnect()
        note("TLS certificate reloaded on SIGHUP; a bad file keeps the one in use")


run(body)
