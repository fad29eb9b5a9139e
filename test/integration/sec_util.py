"""
Helpers for the security tests (07-auth-*, 07-acl-*, 08-tls-*): test certificates made at run time
with the openssl CLI (never committed keys), the tern_passwd binary next to $TERN_BIN, the reference
Mosquitto 2.0.11 unpacked from Debian's package into build/ref (never installed as a service), and
small TLS clients (mosquitto_pub/sub with --cafile, Paho, raw ssl sockets). Every wait is bounded.
"""

import os
import socket
import ssl
import subprocess
import threading
import time

from tern_test import BIN, HOST, TestFailure, check, note

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REF_DIR = os.path.join(ROOT, "build", "ref")


def tern_passwd():
    p = os.path.join(os.path.dirname(BIN), "tern_passwd")
    check(os.path.exists(p), "tern_passwd not found next to %s" % BIN)
    return p


def openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    check(r.returncode == 0, "openssl %s failed: %s" % (" ".join(args), r.stdout.decode()))


def make_key(d, name, kind="ec"):
    if kind == "rsa":
        openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                name + ".key", cwd=d)
    else:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                name + ".key", cwd=d)
    return os.path.join(d, name + ".key")


def make_ca(d, name="ca", kind="ec"):
    make_key(d, name, kind)
    openssl("req", "-x509", "-new", "-key", name + ".key", "-out", name + ".crt", "-days", "2",
            "-subj", "/CN=Tern test CA %s" % name, cwd=d)
    return os.path.join(d, name + ".crt")


def make_cert(d, name, ca="ca", cn="127.0.0.1", days="2", kind="ec", client=False):
    """A certificate signed by ca; days may be "-1" (already expired)."""
    make_key(d, name, kind)
    openssl("req", "-new", "-key", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
            cwd=d)
    ext = os.path.join(d, name + ".ext")
    with open(ext, "w") as f:
        if client:
            f.write("extendedKeyUsage=clientAuth\n")
        else:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", days, "-extfile", ext, cwd=d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def tls_listener(port, d, server="server", extra=()):
    lines = ["listener %s %s" % (port, HOST),
             "certfile %s/%s.crt" % (d, server),
             "keyfile %s/%s.key" % (d, server)]
    return lines + list(extra)


def run_tool(cmd, timeout=10, stdin=None):
    """Runs a client tool; returns (exit status, output)."""
    try:
        r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s did not finish within %d s" % (cmd[0], timeout))
    return r.returncode, r.stdout.decode("utf-8", "replace")


def mosq_pub(port, topic, msg, extra=(), qos=1, timeout=10):
    return run_tool(["mosquitto_pub", "-h", HOST, "-p", str(port), "-t", topic, "-m", msg,
                     "-q", str(qos)] + list(extra), timeout)


def mosq_sub_once(port, topic, extra=(), count=1, wait=5):
    """mosquitto_sub -C count -W wait; returns (status, output lines)."""
    rc, out = run_tool(["mosquitto_sub", "-h", HOST, "-p", str(port), "-t", topic, "-C",
                        str(count), "-W", str(wait), "-v"] + list(extra), wait + 5)
    return rc, [l for l in out.splitlines() if l]


def tls_socket(port, cafile=None, cert=None, key=None, timeout=5, session=None):
    """A raw TLS socket (Python's ssl) to 127.0.0.1:port, handshake done."""
    ctx = ssl.create_default_context(cafile=cafile) if cafile else ssl._create_unverified_context()
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection((HOST, port), timeout=timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost", session=session)
    return s


# ---- the reference Mosquitto (for interoperability of password files) -----------------------

def ref_mosquitto():
    """Paths (broker, mosquitto_passwd) of Mosquitto 2.0.11 unpacked from Debian's package into
    build/ref (as test/bench/run.sh does; never installed as a service)."""
    broker = os.path.join(REF_DIR, "usr", "sbin", "mosquitto")
    passwd = os.path.join(REF_DIR, "usr", "bin", "mosquitto_passwd")
    if not os.path.exists(broker) or not os.path.exists(passwd):
        rc, out = run_tool([os.path.join(ROOT, "test", "integration", "get-ref-mosquitto.sh"),
                            REF_DIR], timeout=300)
        check(rc == 0, "cannot unpack the reference mosquitto: %s" % out)
    return broker, passwd


class RefBroker:
    """The reference Mosquitto on a free port with a given config ("{port}" is replaced by it);
    stopped by pid. start/stop may be repeated: same port and directory, one log per start
    (mosquitto.log, then mosquitto-2.log, ...). start=False leaves it stopped."""

    def __init__(self, conf_text, d, start=True):
        from tern_test import free_port
        self.dir = d
        self.port = free_port()
        self.conf = os.path.join(d, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write(conf_text.replace("{port}", str(self.port)))
        self.proc = None
        self.log = None
        self.starts = 0
        if start:
            self.start()

    def start(self):
        from tern_test import wait_port
        broker, _ = ref_mosquitto()
        self.starts += 1
        name = "mosquitto.log" if self.starts == 1 else "mosquitto-%d.log" % self.starts
        self.log = open(os.path.join(self.dir, name), "wb")
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
        if self.log is not None:
            self.log.close()
        self.proc = None
        self.log = None


def wait_log(broker, text, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in broker.log():
            return
        time.sleep(0.05)
    raise TestFailure("broker log does not show %r within %.1f s" % (text, timeout))
