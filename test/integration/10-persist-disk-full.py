#!/usr/bin/python3
# Disk full: with persistence_location on a tiny tmpfs that is filled up, a QoS 1 PUBLISH gets no
# PUBACK (it cannot be logged), QoS 0 is still delivered, the failure is logged; once space
# returns the PUBACK arrives by itself, and the message survives a kill -9. Needs root and
# mount(2) (CAP_SYS_ADMIN); skipped otherwise (the unit test test_persist_write_failure_* covers
# the same path through the module's write-failure switch).
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check


def fill(path):
    """Writes zeros into path until the file system is full."""
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0")
        except OSError:
            pass


def main():
    if not t.tern_only("disk-full handling of Tern's persistence"):
        return
    b = t.Broker()
    db = os.path.join(b.dir, "db")
    os.makedirs(db)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", db],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise t.Skip("cannot mount a tmpfs here (%s)" % r.stdout.decode().strip())
    try:
        with open(b.conf_path, "a") as f:
            f.write("persistence true\npersistence_location %s\n" % db)
        b.start()
        sub = t.connected(b.port, "df-sub", clean=False)
        sub.subscribe([("df/#", 1)])
        sub.disconnect()
        live = t.connected(b.port, "df-live")
        live.subscribe([("live/#", 0)])
        pub = t.connected(b.port, "df-pub")

        filler = os.path.join(db, "filler")
        fill(filler)
        # Larger than a page: the log's partly used last page cannot take it.
        held = b"held" * 5000
        pub.send(t.enc_publish("df/1", held, qos=1, pid=7))
        pub.expect_nothing(timeout=1.5, what="no PUBACK while the disk is full")
        pub.publish("live/x", b"qos0", qos=0)
        live.expect_publish("live/x", b"qos0", qos=0)
        check("No space left on device" in b.log(), "the failure is logged")

        os.unlink(filler)
        pub.expect(t.PUBACK, 7, timeout=4)
        check("writable again" in b.log(), "the recovery is logged")

        b.proc.kill()
        b.proc.wait(5)
        b.logf.close()
        b.log_path = os.path.join(b.dir, "broker-2.log")
        b.start()
        sub = t.Client(b.port, "df-sub")
        sub.connect("df-sub", clean=False)
        sub.expect_publish("df/1", held, qos=1)
        sub.disconnect()
        b.stop()
        check(b.returncode == 0, "broker exit status %r" % b.returncode)
    finally:
        if b.alive():
            b.proc.kill()
            b.proc.wait(5)
        subprocess.run(["umount", "-l", db], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

t.run(main)
