#!/usr/bin/python3
# The systemd notification protocol, spoken by the broker over $NOTIFY_SOCKET (no libsystemd):
# READY=1 once its listener accepts, WATCHDOG=1 every half $WATCHDOG_USEC from the loop,
# RELOADING=1 (with MONOTONIC_USEC) then READY=1 around a SIGHUP reload, STOPPING=1 on SIGTERM.
# The test binds the datagram socket itself, as systemd would.
import os, sys, signal, socket, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def recv_until(sock, want, timeout, seen):
    """Reads datagrams until one starts with want; returns it. Every datagram goes to seen."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise t.TestFailure("no %r notification within %.1f s; got %r" % (want, timeout, seen))
        sock.settimeout(left)
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            continue
        seen.append(msg)
        if msg.startswith(want):
            return msg


def main():
    if not t.tern_only("sd_notify protocol"):
        return
    d = tempfile.mkdtemp(prefix="tern-notify-")
    path = os.path.join(d, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = "200000"      # a kick every 100 ms
    os.environ.pop("WATCHDOG_PID", None)
    seen = []
    try:
        b = t.Broker()
        b.start()
        try:
            recv_until(sock, "READY=1", 5, seen)
            check(t.port_accepts(b.port), "READY=1 sent before the listener accepts")
            sub = t.connected(b.port, "notify-sub")
            sub.subscribe("n/t")
            # Watchdog: at least 5 kicks in one second (expected ~10).
            start = time.monotonic()
            kicks = 0
            while time.monotonic() - start < 1.0:
                recv_until(sock, "WATCHDOG=1", 1.0, seen)
                kicks += 1
            check(kicks >= 5, "only %d WATCHDOG=1 in 1 s with WATCHDOG_USEC=200000" % kicks)
            b.proc.send_signal(signal.SIGHUP)
            msg = recv_until(sock, "RELOADING=1", 5, seen)
            check("MONOTONIC_USEC=" in msg, "RELOADING=1 without MONOTONIC_USEC: %r" % msg)
            recv_until(sock, "READY=1", 5, seen)
            # The reload kept the client.
            pub = t.connected(b.port, "notify-pub")
            pub.publish("n/t", b"after reload")
            sub.expect_publish("n/t", b"after reload")
            b.proc.send_signal(signal.SIGTERM)
            recv_until(sock, "STOPPING=1", 5, seen)
            b.proc.wait(5)
            check_eq(b.proc.returncode, 0, "exit status after SIGTERM")
        finally:
            b.stop()
    finally:
        sock.close()
        os.unlink(path)
        os.rmdir(d)


t.run(main)
