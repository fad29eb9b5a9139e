"""
Helpers for the bridge tests (15-bridge-*): an upstream broker that can be stopped and started
again on the same port (the reference Mosquitto 2.0.11 unpacked into build/ref, or a second
Tern), the bridge section of a config, and waits on the bridging broker's log. Every process is
stopped by its pid; every wait is bounded.
"""

import tempfile
import time

from tern_test import HOST, TestFailure
from sec_util import RefBroker


class Upstream(RefBroker):
    """Mosquitto on a fixed free port, not started yet; start/stop may be repeated."""

    def __init__(self, extra=()):
        d = tempfile.mkdtemp(prefix="tern-up-")
        lines = ["listener {port} %s" % HOST, "allow_anonymous true",
                 "persistence_location %s/" % d] + list(extra)
        super().__init__("\n".join(lines) + "\n", d, start=False)


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
