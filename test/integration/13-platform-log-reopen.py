#!/usr/bin/python3
# log_dest file and logrotate: after the log file is moved away, SIGUSR1 (and SIGHUP) make the
# broker open a new file at the configured path, while a connected client stays connected and
# keeps receiving. Lines logged before the signal stay in the moved file.
import os, sys, signal, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def wait_for_text(path, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                if text in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise t.TestFailure("%r never appeared in %s" % (text, path))


def rotate(b, log, sig, n):
    """Moves the log to log.N, signals, and checks a new log gets the next connection's line."""
    moved = "%s.%d" % (log, n)
    os.rename(log, moved)
    b.proc.send_signal(sig)
    cid = "rotated-%d" % n
    deadline = time.monotonic() + 5
    while not os.path.exists(log):
        check(time.monotonic() < deadline, "no new %s after %s" % (log, sig.name))
        time.sleep(0.02)
    c = t.connected(b.port, cid)
    wait_for_text(log, cid)
    with open(moved) as f:
        check(cid not in f.read(), "line for %s went to the moved file %s" % (cid, moved))
    c.disconnect()


def main():
    b = t.Broker(config="listener {port} 127.0.0.1\nallow_anonymous true\n"
                        "log_dest file {dir}/tern.log\nlog_type all\n")
    log = os.path.join(b.dir, "tern.log")
    with b:
        wait_for_text(log, "running")
        sub = t.connected(b.port, "keeps-going")
        sub.subscribe("lr/t")
        wait_for_text(log, "keeps-going")
        rotate(b, log, signal.SIGUSR1, 1)
        rotate(b, log, signal.SIGHUP, 2)
        pub = t.connected(b.port, "lr-pub")
        pub.publish("lr/t", b"still here")
        sub.expect_publish("lr/t", b"still here")
        sub.ping()
        with open(log + ".1") as f:
            check("keeps-going" in f.read(), "the first file lost its earlier lines")


t.run(main)
