#!/usr/bin/env python3
"""Client certificates. require_certificate true: a client without a certificate, or with one
signed by another CA, fails the handshake; one signed by the cafile CA gets in (mosquitto_pub
--cert/--key, and a raw ssl socket). use_identity_as_username true: the certificate's CN is the
username (the CONNECT's username and password are ignored, the password file is not consulted),
and the ACL file applies to it: CN sensor-1 may write sensors/sensor-1/# only."""

import os
import tempfile

from sec_util import make_ca, make_cert, mosq_pub, mosq_sub_once, tls_listener, tls_socket
from tern_test import (Broker, Client, HOST, PUBLISH, check, check_eq, enc_connect,
                       enc_subscribe, free_port, note, run, SUBACK, CONNACK)


def raw_tls_client(port, d, cert, user=None, password=None, cid="raw"):
    s = tls_socket(port, cafile=os.path.join(d, "ca.crt"),
                   cert=os.path.join(d, cert + ".crt"), key=os.path.join(d, cert + ".key"))
    c = Client.__new__(Client)
    c.name, c.sock, c.buf, c.eof, c.pending = cid, s, bytearray(), False, []
    return c


def body():
    d = tempfile.mkdtemp(prefix="tern-tlsc-")
    make_ca(d, "ca")
    make_ca(d, "other")
    make_cert(d, "server")
    make_cert(d, "sensor-1", cn="sensor-1", client=True)
    make_cert(d, "sensor-2", cn="sensor-2", client=True)
    make_cert(d, "rogue", ca="other", cn="sensor-1", client=True)
    acl = os.path.join(d, "acl")
    with open(acl, "w") as f:
        f.write("user sensor-1\ntopic readwrite sensors/sensor-1/#\n"
                "user sensor-2\ntopic readwrite sensors/sensor-2/#\ntopic read sensors/#\n")
    pw = os.path.join(d, "pw")
    with open(pw, "w") as f:
        f.write("")                       # nobody: passwords must not be what lets them in
    idp = free_port()
    cafile = "cafile %s/ca.crt" % d
    conf = tls_listener("{port}", d, extra=[cafile, "require_certificate true"])
    conf += tls_listener(idp, d, extra=[cafile, "require_certificate true",
                                        "use_identity_as_username true"])
    conf += ["allow_anonymous false", "password_file " + pw, "acl_file " + acl]
    with Broker(config="\n".join(conf) + "\n") as b:
        ca = ["--cafile", os.path.join(d, "ca.crt")]
        rc, out = mosq_pub(b.port, "t", "x", extra=ca)
        check(rc != 0, "a client without certificate got in: %s" % out)
        rc, out = mosq_pub(b.port, "t", "x", extra=ca + ["--cert", os.path.join(d, "rogue.crt"),
                                                        "--key", os.path.join(d, "rogue.key")])
        check(rc != 0, "a certificate from another CA was accepted: %s" % out)
        # On the require_certificate-only listener the certificate is not a login: anonymous
        # CONNECT is still refused (allow_anonymous false) after a good handshake.
        c = raw_tls_client(b.port, d, "sensor-1")
        c.send(enc_connect("anon-with-cert"))
        p = c.recv(what="CONNACK")
        check_eq((p.type, p.rc), (CONNACK, 5), "anonymous CONNECT with a certificate")
        c.close()
        note("require_certificate: no cert / other CA refused in the handshake")
        # use_identity_as_username: CN is the username; CONNECT's own credentials ignored.
        c = raw_tls_client(idp, d, "sensor-1", cid="s1")
        c.connect("s1", username="someone-else", password="wrong")
        c.subscribe([("sensors/sensor-1/cmd", 1), ("sensors/sensor-2/cmd", 1)],
                    expect_codes=[1, 0x80])
        c.publish("sensors/sensor-1/temp", b"21.5", qos=1)
        c2 = raw_tls_client(idp, d, "sensor-2", cid="s2")
        c2.connect("s2")
        c2.subscribe([("sensors/#", 0)])
        c.publish("sensors/sensor-1/temp", b"22.0", qos=1)
        c.publish("sensors/sensor-2/temp", b"forged", qos=1)      # denied, still PUBACKed
        c.publish("sensors/sensor-1/hum", b"40", qos=1)
        c2.expect_publish("sensors/sensor-1/temp", b"22.0")
        c2.expect_publish("sensors/sensor-1/hum", b"40")
        c2.expect_nothing()
        c.disconnect()
        c2.disconnect()
        rc, out = mosq_sub_once(idp, "sensors/sensor-1/#", wait=1,
                                extra=ca + ["--cert", os.path.join(d, "sensor-1.crt"),
                                            "--key", os.path.join(d, "sensor-1.key")])
        check(rc in (0, 27), "mosquitto_sub with a client certificate: %r %r" % (rc, out))
        note("use_identity_as_username: CN used as username, ACL applied to it")


run(body)
