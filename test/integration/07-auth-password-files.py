#!/usr/bin/env python3
"""Password files both ways with Debian's Mosquitto 2.0.11 (unpacked into build/ref):
a file written by mosquitto_passwd ($7$ default and -H sha512 $6$) logs users into Tern, and a
file written by tern_passwd (-c -b, -H sha512, -D, -U) logs the same users into the reference
Mosquitto broker; for every (user, password) case both brokers give the same CONNACK code.
mosquitto_pub -u/-P works; anonymous clients are refused with allow_anonymous false; a missing
password file stops Tern at start with the file named."""

import os
import subprocess
import tempfile

from sec_util import RefBroker, mosq_pub, ref_mosquitto, run_tool, tern_passwd
from tern_test import (Broker, Client, CONNACK, check, check_eq, free_port, note, run,
                       run_broker_to_exit)

CASES = [  # (username or None, password or None)
    ("alice", "secret"), ("alice", "Secret"), ("alice", ""), ("alice", None),
    ("carol", "hunter2"), ("carol", "hunter"), ("dave", "d4ve:pw with spaces"),
    ("dave", "d4ve"), ("erin", "erin"), ("nobody", "secret"), (None, None),
    ("ünï", "cödé"),
]


def connack(port, user, password):
    c = Client(port, "c")
    kw = {}
    if user is not None:
        kw["username"] = user
    if password is not None:
        kw["password"] = password
    from tern_test import enc_connect
    c.send(enc_connect("pwtest", **kw))
    p = c.recv(what="CONNACK")
    c.close()
    check(p.type == CONNACK, "expected CONNACK, got %r" % p)
    return p.rc


def table(port):
    return [connack(port, u, p) for u, p in CASES]


def body():
    d = tempfile.mkdtemp(prefix="tern-pw-")
    _, mosq_passwd = ref_mosquitto()
    tp = tern_passwd()
    # 1. Written by mosquitto_passwd, read by Tern (and by Mosquitto, for the expected codes).
    f1 = os.path.join(d, "mosq.pw")
    for args in (["-c", "-b", f1, "alice", "secret"], ["-H", "sha512", "-b", f1, "carol", "hunter2"],
                 ["-b", f1, "dave", "d4ve:pw with spaces"], ["-b", f1, "erin", "erin"],
                 ["-b", f1, "ünï", "cödé"], ["-D", f1, "erin"]):
        rc, out = run_tool([mosq_passwd] + args)
        check_eq(rc, 0, "mosquitto_passwd %r: %s" % (args, out))
    text = open(f1).read()
    check("carol:$6$" in text and "alice:$7$101$" in text, "unexpected hashes: %s" % text)
    # 2. Written by tern_passwd, read by Mosquitto (and Tern).
    f2 = os.path.join(d, "tern.pw")
    with open(f2, "w") as f:
        f.write("# users\nalice:secret\ndave:d4ve:pw with spaces\nerin:erin\n")
    os.chmod(f2, 0o640)
    for args in (["-U", f2], ["-H", "sha512", "-b", f2, "carol", "hunter2"],
                 ["-b", f2, "ünï", "cödé"], ["-D", f2, "erin"], ["-U", f2]):
        rc, out = run_tool([tp] + args)
        check_eq(rc, 0, "tern_passwd %r: %s" % (args, out))
    text = open(f2).read()
    check("carol:$6$" in text and "alice:$7$101$" in text and "erin" not in text
          and "# users" in text, "tern_passwd wrote: %s" % text)
    check_eq(oct(os.stat(f2).st_mode & 0o777), "0o640", "tern_passwd keeps the file mode")
    rc, out = run_tool([tp, "-D", f2, "zed"])
    check(rc != 0 and "not found" in out, "deleting an unknown user: %r %s" % (rc, out))
    f3 = os.path.join(d, "new.pw")
    r = subprocess.run([tp, "-c", f3, "frank"], input=b"pw1\npw1\n", capture_output=True,
                       timeout=10)
    check_eq(r.returncode, 0, "tern_passwd -c with the password on stdin: %s" % r.stderr)
    check_eq(oct(os.stat(f3).st_mode & 0o777), "0o600", "a new password file's mode")

    results = {}
    for name, path in (("mosquitto_passwd", f1), ("tern_passwd", f2)):
        with Broker(extra=["allow_anonymous false", "password_file " + path]) as b:
            results[("tern", name)] = table(b.port)
            rc, out = mosq_pub(b.port, "t", "m", extra=["-u", "alice", "-P", "secret"])
            check_eq(rc, 0, "mosquitto_pub -u alice -P secret; %s" % out)
            rc, out = mosq_pub(b.port, "t", "m", extra=["-u", "alice", "-P", "nope"])
            check(rc != 0, "mosquitto_pub with a wrong password succeeded")
        ref = RefBroker("listener {port} 127.0.0.1\nallow_anonymous false\nuser root\n"
                        "password_file %s\n" % path, d)
        try:
            results[("mosquitto", name)] = table(ref.port)
        finally:
            ref.stop()
    want = [0, 5, 5, 5, 0, 5, 0, 5, 5, 5, 5, 0]
    for k, v in sorted(results.items()):
        check_eq(v, want, "CONNACK codes of %s with the file from %s" % k)
    note("12 logins x 2 files x 2 brokers: identical CONNACK codes")
    conf = os.path.join(d, "missing.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\npassword_file %s/none.pw\n" % (free_port(), d))
    rc, out = run_broker_to_exit(["-c", conf])
    check(rc != 0 and "none.pw: cannot open" in out, "missing password file: %r %s" % (rc, out))


run(body)
