#!/usr/bin/env python3
"""What TLS refuses, and how: TLS 1.1 unless tls_version tlsv1.1, cipher suites outside
`ciphers`, a client trusting another CA, an expired server certificate (loud
warning at start, clients refuse it), plain MQTT to the TLS port (closed, no CONNACK), TLS to the
plain port (closed; the broker stays healthy), and start-up errors naming the file: missing
certfile, missing keyfile, a file that is not PEM, a key that does not match the certificate,
require_certificate without a CA, tls_version tlsv1.3, an unknown cipher suite."""

import os
import tempfile

from sec_util import (make_ca, make_cert, mosq_pub, run_tool, tls_listener, tls_socket,
                      wait_log)
from tern_test import (Broker, Client, HOST, check, check_eq, enc_connect, free_port, note,
                       round_trip, run, run_broker_to_exit)


def start_fails(d, lines, want):
    conf = os.path.join(d, "bad-%d.conf" % abs(hash(want)))
    with open(conf, "w") as f:
        f.write("\n".join(lines + ["allow_anonymous true"]) + "\n")
    rc, out = run_broker_to_exit(["-c", conf])
    check(rc != 0, "broker started with %r" % lines)
    check(want in out, "start-up error %r does not contain %r" % (out.strip(), want))
    note("refused at start: %s" % out.strip().splitlines()[-1])


def body():
    d = tempfile.mkdtemp(prefix="tern-tlsr-")
    make_ca(d, "ca")
    make_ca(d, "other")
    make_cert(d, "server")
    make_cert(d, "expired", days="-1")
    make_cert(d, "other-server", ca="other")
    plain = free_port()
    exp_port = free_port()
    conf = tls_listener("{port}", d) + ["listener %d %s" % (plain, HOST)]
    conf += tls_listener(exp_port, d, server="expired") + ["allow_anonymous true"]
    with Broker(config="\n".join(conf) + "\n") as b:
        wait_log(b, "expired.crt EXPIRED on")
        ca = ["--cafile", os.path.join(d, "ca.crt")]
        # A client that trusts another CA refuses the server.
        rc, out = mosq_pub(b.port, "t", "x", extra=["--cafile", os.path.join(d, "other.crt")])
        check(rc != 0, "mosquitto_pub trusting another CA connected: %s" % out)
        # The expired certificate is refused by a verifying client.
        rc, out = mosq_pub(exp_port, "t", "x", extra=ca)
        check(rc != 0, "mosquitto_pub accepted an expired server certificate: %s" % out)
        # Plain MQTT to the TLS port: no CONNACK, closed.
        c = Client(b.port, "plain-to-tls")
        c.send(enc_connect("plain-to-tls"))
        c.expect_closed(timeout=5, what="plain MQTT on a TLS port")
        # TLS to the plain port: the client fails, the broker closes it.
        rc, out = mosq_pub(plain, "t", "x", extra=ca)
        check(rc != 0, "mosquitto_pub with TLS to a plain port succeeded: %s" % out)
        try:
            tls_socket(plain, cafile=os.path.join(d, "ca.crt"), timeout=3).close()
            check(False, "a TLS handshake succeeded on the plain port")
        except OSError:
            pass
        # After all that, both listeners still work.
        round_trip(plain, "plain-ok")
        rc, out = mosq_pub(b.port, "t", "x", extra=ca)
        check_eq(rc, 0, "mosquitto_pub over TLS after the refusals; %s" % out)
        wait_log(b, "TLS handshake with")
    # tls_version and ciphers.
    v11 = free_port()
    only = free_port()
    conf = tls_listener("{port}", d) + tls_listener(v11, d, extra=["tls_version tlsv1.1"])
    conf += tls_listener(only, d, extra=["ciphers TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"])
    with Broker(config="\n".join(conf + ["allow_anonymous true"]) + "\n") as b:
        def s_client(port, *args):
            rc, out = run_tool(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port]
                               + list(args), stdin=b"", timeout=10)
            return out
        old = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
        check("Cipher is (NONE)" in s_client(b.port, *old), "TLS 1.1 accepted by default")
        check("Protocol  : TLSv1.1" in s_client(v11, *old) and
              "Cipher is (NONE)" not in s_client(v11, *old), "tls_version tlsv1.1 refused 1.1")
        out = s_client(only, "-tls1_2")
        check("Cipher is ECDHE-ECDSA-AES128-GCM-SHA256" in out, "ciphers not applied: %s"
              % out[-300:])
        out = s_client(only, "-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305")
        check("Cipher is (NONE)" in out, "a suite outside ciphers was accepted")
        note("tls_version and ciphers applied")
    # Start-up errors name the file.
    missing = os.path.join(d, "nope.crt")
    base = ["listener %d %s" % (free_port(), HOST)]
    start_fails(d, base + ["certfile " + missing, "keyfile %s/server.key" % d],
                "certfile %s: cannot open: No such file or directory" % missing)
    start_fails(d, base + ["certfile %s/server.crt" % d, "keyfile %s/nokey.key" % d],
                "keyfile %s/nokey.key: cannot open" % d)
    start_fails(d, base + ["certfile %s/server.csr" % d, "keyfile %s/server.key" % d],
                "certfile %s/server.csr: not a usable PEM certificate" % d)
    start_fails(d, base + ["certfile %s/server.crt" % d, "keyfile %s/expired.key" % d],
                "keyfile %s/expired.key does not match certfile %s/server.crt" % (d, d))
    start_fails(d, base + ["certfile %s/server.crt" % d],
                "TLS needs both certfile and keyfile")
    start_fails(d, tls_listener(free_port(), d, extra=["require_certificate true"]),
                "require_certificate true needs cafile or capath")
    start_fails(d, tls_listener(free_port(), d, extra=["tls_version tlsv1.3"]),
                "tlsv1.3 is not available")
    start_fails(d, tls_listener(free_port(), d, extra=["ciphers TLS-NOT-A-CIPHER"]),
                "'TLS-NOT-A-CIPHER' is not a cipher suite mbedTLS knows")


run(body)
