#!/usr/bin/env python3
"""Failed-login slowdown and SIGHUP reload of the password and ACL files.

Throttle: after 5 failed logins in a row from one address, that address is refused (CONNACK 5,
password not even checked, logged) for 1 s, doubling with each further failure; the right password
works again once the block has passed, and a success clears the count.
Reload: SIGHUP re-reads both files without dropping connections; a connected subscriber is filtered
by the new ACL from the next message; the new password works and the old one no longer does; a
file with an error keeps every old rule and the error is logged as FILE:LINE."""

import os
import signal
import tempfile
import time

from sec_util import run_tool, tern_passwd, wait_log
from tern_test import (Broker, Client, CONNACK, check, check_eq, connected, enc_connect, note,
                       run)


def login_rc(port, user, password):
    c = Client(port, "login")
    c.send(enc_connect("thr-%s" % user, username=user, password=password))
    p = c.recv(what="CONNACK")
    c.close()
    check(p.type == CONNACK, "expected CONNACK, got %r" % p)
    return p.rc


def passwd(path, opt, user, password):
    opts = ["-c", "-b"] if opt == "-c" else [opt]
    rc, out = run_tool([tern_passwd()] + opts + [path, user, password])
    check_eq(rc, 0, "tern_passwd: %s" % out)


def body():
    d = tempfile.mkdtemp(prefix="tern-thr-")
    first = os.path.join(d, "pw")
    passwd(first, "-c", "alice", "secret")
    passwd(first, "-b", "admin", "root")
    with Broker(extra=["allow_anonymous false", "password_file pw", "acl_file acl"],
                files={"acl": "user alice\ntopic readwrite a/#\nuser admin\ntopic #\n",
                       "pw": open(first).read()}) as b:
        pw = os.path.join(b.dir, "pw")
        wait_log(b, "Password file pw: 2 users")
        # ---- throttle
        for i in range(4):
            check_eq(login_rc(b.port, "alice", "wrong%d" % i), 5, "failed login %d" % (i + 1))
        check_eq(login_rc(b.port, "alice", "secret"), 0, "the right password after 4 failures")
        for i in range(5):
            check_eq(login_rc(b.port, "alice", "wrong"), 5, "failed login %d" % (i + 1))
        t_block = time.monotonic()
        check_eq(login_rc(b.port, "alice", "secret"), 5, "the right password while blocked")
        check_eq(login_rc(b.port, "admin", "root"), 5, "another user from the blocked address")
        wait_log(b, "address blocked for another")
        wait_log(b, "Too many failed logins from 127.0.0.1: refusing it for 1000 ms")
        time.sleep(max(0, t_block + 1.1 - time.monotonic()))
        check_eq(login_rc(b.port, "alice", "secret"), 0, "the right password after the block")
        note("throttle: blocked after 5 failures, released after 1 s")
        # ---- reload
        sub = connected(b.port, "alice-sub", username="alice", password="secret")
        sub.subscribe([("#", 1)])
        admin = connected(b.port, "adm", username="admin", password="root")
        admin.publish("a/1", b"before", qos=1)
        sub.expect_publish("a/1", b"before")
        with open(os.path.join(b.dir, "acl"), "w") as f:
            f.write("user alice\ntopic readwrite b/#\nuser admin\ntopic #\n")
        passwd(pw, "-b", "alice", "n3w")
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "ACL file acl: 2 users")
        time.sleep(0.2)
        sub.ping()                                   # still connected
        admin.publish("a/2", b"hidden", qos=1)
        admin.publish("b/1", b"shown", qos=1)
        sub.expect_publish("b/1", b"shown")
        check_eq(login_rc(b.port, "alice", "secret"), 5, "the old password after reload")
        check_eq(login_rc(b.port, "alice", "n3w"), 0, "the new password after reload")
        note("reload: new ACL and password applied, connection kept")
        # A broken file keeps the old rules.
        with open(os.path.join(b.dir, "acl"), "w") as f:
            f.write("user alice\ntopik readwrite a/#\n")
        b.proc.send_signal(signal.SIGHUP)
        wait_log(b, "acl:2: invalid line")
        time.sleep(0.2)
        admin.publish("a/3", b"still hidden", qos=1)
        admin.publish("b/2", b"still shown", qos=1)
        sub.expect_publish("b/2", b"still shown")
        check_eq(login_rc(b.port, "alice", "n3w"), 0, "the password after a failed reload")
        sub.disconnect()
        admin.disconnect()
        note("reload with an error: old rules kept, error logged with file:line")


run(body)
