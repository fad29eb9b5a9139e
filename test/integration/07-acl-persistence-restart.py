#!/usr/bin/env python3
"""ACL reads for a persistent session restored from disk: after a restart the session's
username is unknown until its client reconnects, so messages queued for it meanwhile are checked
when they are delivered, against the username of the reconnecting client. alice (may read a/#)
gets a/1 published while she was away across a restart, and not b/1."""

from tern_test import Broker, check, connected, note, run, tern_only

ACL = "user alice\ntopic readwrite a/#\ntopic readwrite b/#\nuser admin\ntopic #\n"
ACL2 = "user alice\ntopic readwrite a/#\nuser admin\ntopic #\n"


def body():
    if not tern_only("persistence_location and restart"):
        return
    b = Broker(extra=["persistence true", "persistence_location .", "acl_file acl"],
               files={"acl": ACL})
    b.start()
    alice = connected(b.port, "alice-p", clean=False, username="alice", password="x")
    alice.subscribe([("a/#", 1), ("b/#", 1)])
    alice.disconnect()
    check(b.stop() == 0, "broker did not stop cleanly")
    with open(b.dir + "/acl", "w") as f:
        f.write(ACL2)                         # alice loses b/# while she is away
    b.stopped = False
    b.start()
    try:
        admin = connected(b.port, "adm", username="admin", password="x")
        admin.publish("b/1", b"not for alice", qos=1)
        admin.publish("a/1", b"for alice", qos=1)
        admin.disconnect()
        alice = connected(b.port, "alice-p", clean=False, username="alice", password="x")
        alice.expect_publish("a/1", b"for alice", qos=1)
        alice.expect_nothing()
        alice.disconnect()
        note("restored session: queued message checked against the reconnecting username")
    finally:
        rc = b.stop()
    check(rc == 0, "broker did not stop cleanly after the restart")


run(body)
