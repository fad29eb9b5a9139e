"""
Helpers for the bridge tests (15-bridge-*): an upstream broker that can be stopped and started
again on the same port (the reference Mosquitto 2.0.11 unpacked into build/ref, or a second
Tern), the bridge section of a config, and waits on the bridging broker's log. Every process is
stopped by its pid; every wait is bounded.
"""

import os
import subprocess
import tempfile
import time

from tern_test import BIN, HOST, TestFailure, free_port, wait_port
from sec_util import ref_mosquitto


class Upstream:
    """Mosquitto on a fixed free port; start/stop may be repeated (same port, same dir)."""

    def __init__(self, extra=()):
        self.dir = tempfile.mkdtemp(prefix="tern-up-")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        lines = ["listener %d %s" % (self.port, HOST), "allow_anonymous true",
                 "persistence_location %s/" % self.dir] + list(extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.starts = 0

    def start(self):
        broker, _ = ref_mosquitto()
        self.starts += 1
        self.log = open(os.path.join(self.dir, "mosquitto-%d.log" % self.starts), "wb")
        self.proc = subprocess.Popen([broker, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir)
        wait_port(self.port, 5, self.proc)
        return self

    def stop(self):
        """SIGTERM (Mosquitto saves its persistence file on the way out), SIGKILL after 5 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None:
            self.log.close()
        self.proc = None


def bridge_lines(name, port, topics, extra=()):
    """A connection section to 127.0.0.1:port; topics are full 'topic ...' argument strings."""
    lines = ["connection %s" % name, "address %s:%d" % (HOST, port),
             "remote_clientid %s" % name, "restart_timeout 1 2", "keepalive_interval 5"]
    lines += ["topic %s" % t for t in topics]
    return lines + list(extra)


def wait_log_count(broker, text, n, timeout=10):
    """Waits until text occurs at least n times in broker's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if broker.log().count(text) >= n:
            return
        time.sleep(0.05)
    raise TestFailure("broker log does not show %r %d times within %.1f s" % (text, n, timeout))


def wait_connected(broker, name, n=1, timeout=10):
    wait_log_count(broker, "Bridge %s connected to" % name, n, timeout)
