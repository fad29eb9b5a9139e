#!/usr/bin/python3
# SIGHUP reloads a wss listener's certificate: after the files are replaced, new connections
# get the new certificate while an open one keeps working; an unusable file is refused with a
# log line and the certificate in use stays.
import hashlib, os, signal, ssl, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
import tern_ws as w
from tern_test import check, check_eq


def fingerprint(port, cafile, name):
    ctx = ssl.create_default_context(cafile=cafile)
    c = w.WSClient(port, name, tls_ctx=ctx)
    fp = hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()
    c.connect(name)
    return c, fp


def wait_log(b, text, timeout=5):
    deadline = time.monotonic() + timeout
    while text not in b.log():
        check(time.monotonic() < deadline, "no %r in the broker log" % text)
        time.sleep(0.05)


def main():
    d = tempfile.mkdtemp(prefix="tern-wss-reload-")
    cafile, crt, key = w.make_test_ca(d)
    port = t.free_port()
    b = t.Broker(config=w.ws_config(port, ["certfile " + crt, "keyfile " + key]))
    b.start(wait_ports=[b.port, port])
    with b:
        old, fp_a = fingerprint(port, cafile, "before")
        w.make_server_cert(d)
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "reloaded certificate")
        new, fp_b = fingerprint(port, cafile, "after")
        check(fp_a != fp_b, "a new connection still gets the old certificate after SIGHUP")
        old.ping()                           # the open connection keeps its session
        old.disconnect()
        new.disconnect()
        with open(crt, "w") as f:
            f.write("not a certificate\n")
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "unusable")
        again, fp_c = fingerprint(port, cafile, "kept")
        check_eq(fp_c, fp_b, "certificate after a reload with a broken file")
        again.disconnect()

t.run(main)
