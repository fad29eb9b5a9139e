"""
A raw WebSocket (RFC 6455) client for Tern's 09-websocket tests: the handshake, masked frames
of any opcode and fragmentation, and the same packet reader as tern_test.Client, so an MQTT
session over WebSockets is driven exactly like one over TCP (connect/subscribe/expect...).

Frames the broker sends are unwrapped: data frames feed the MQTT byte stream, control frames
are recorded in .control as (opcode, payload). Every wait is bounded by the caller's timeout.
"""

import base64
import hashlib
import os
import socket
import ssl
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def _openssl(d, *args):
    import subprocess
    r = subprocess.run(["openssl"] + list(args), cwd=d, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    t.check(r.returncode == 0, "openssl %s: %s" % (args[0], r.stdout.decode()))


def make_server_cert(d):
    """A fresh key and certificate for 127.0.0.1/localhost signed by d/ca.*, written over
    d/server.crt and d/server.key. Returns their paths."""
    _openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             "server.key.new")
    _openssl(d, "req", "-new", "-key", "server.key.new", "-out", "server.csr", "-subj",
             "/CN=localhost")
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt.new", "-days", "2", "-extfile", "server.ext")
    for n in ("server.key", "server.crt"):
        os.replace(os.path.join(d, n + ".new"), os.path.join(d, n))
    return os.path.join(d, "server.crt"), os.path.join(d, "server.key")


def make_test_ca(d):
    """A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl
    CLI in d (never committed keys). Returns (ca.crt, server.crt, server.key) paths."""
    _openssl(d, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
             "ca.key")
    _openssl(d, "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=Tern WebSocket test CA")
    crt, key = make_server_cert(d)
    return os.path.join(d, "ca.crt"), crt, key


class HandshakeRefused(Exception):
    pass


def ws_config(port, extra=()):
    """Config lines for a broker whose main TCP listener is {port} plus a websockets listener
    on port: use as Broker(config=...) with wait_ports=[b.port, port]."""
    lines = ["listener {port} 127.0.0.1", "allow_anonymous true",
             "listener %d 127.0.0.1" % port, "protocol websockets"] + list(extra)
    return "\n".join(lines) + "\n"


def frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
    """One client frame. length overrides the announced payload length (to lie about it)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload)) if len(payload) < 4096 \
        else _mask_fast(payload, key)
    return head + key + body


def _mask_fast(payload, key):
    k = int.from_bytes(key * ((len(payload) + 3) // 4), "big") >> (8 * ((-len(payload)) % 4))
    return (int.from_bytes(payload, "big") ^ k).to_bytes(len(payload), "big")


class WSClient(t.Client):
    """MQTT over a raw WebSocket. send() wraps bytes in one binary frame; send_frame() sends
    any frame. handshake=False leaves the socket before the HTTP upgrade."""

    def __init__(self, port, name="ws", subprotocol="mqtt", handshake=True, tls_ctx=None,
                 path="/mqtt"):
        self.name = name
        sock = socket.create_connection((t.HOST, port), timeout=t.RECV_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls_ctx is not None:
            sock = tls_ctx.wrap_socket(sock, server_hostname="localhost")
        self.sock = sock
        self.buf = bytearray()      # the MQTT byte stream (data frame payloads)
        self.raw = bytearray()      # WebSocket bytes not parsed yet
        self.eof = False
        self.pending = []
        self.control = []           # (opcode, payload) of control frames received
        self.frames = []            # (opcode, fin, length) of every frame received
        self.protocol = None
        if handshake:
            self.handshake(subprotocol, path)

    def handshake(self, subprotocol="mqtt", path="/mqtt", timeout=t.RECV_TIMEOUT):
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
               b"\r\nSec-WebSocket-Version: 13\r\n")
        if subprotocol is not None:
            req += b"Sec-WebSocket-Protocol: " + subprotocol.encode() + b"\r\n"
        self.sock.sendall(req + b"\r\n")
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise t.TestFailure("%s: no handshake answer" % self.name)
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                raise HandshakeRefused("connection closed during the handshake")
            self.raw += data
        head, _, rest = bytes(self.raw).partition(b"\r\n\r\n")
        self.raw = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise HandshakeRefused(lines[0])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        t.check_eq(hdrs.get("sec-websocket-accept"), want, "Sec-WebSocket-Accept")
        self.protocol = hdrs.get("sec-websocket-protocol")
        return hdrs

    def send(self, data):
        self.sock.sendall(frame(OP_BIN, bytes(data)))

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, bytes(payload), **kw))

    def _parse(self):
        while True:
            r = self.raw
            if len(r) < 2:
                return
            op, fin, n, off = r[0] & 0x0F, bool(r[0] & 0x80), r[1] & 0x7F, 2
            if n == 126:
                if len(r) < 4:
                    return
                n, off = struct.unpack("!H", r[2:4])[0], 4
            elif n == 127:
                if len(r) < 10:
                    return
                n, off = struct.unpack("!Q", r[2:10])[0], 10
            t.check(not (r[1] & 0x80), "%s: server frame is masked" % self.name)
            if len(r) < off + n:
                return
            payload = bytes(r[off:off + n])
            del self.raw[:off + n]
            self.frames.append((op, fin, n))
            if op in (OP_CONT, OP_BIN):
                self.buf += payload
            elif op == OP_TEXT:
                raise t.TestFailure("%s: server sent a text frame" % self.name)
            else:
                self.control.append((op, payload))
                if op == OP_CLOSE:
                    self.eof = True

    def _fill(self, deadline):
        """Adds at least one byte to the MQTT stream, or raises Closed / socket.timeout."""
        before = len(self.buf)
        while True:
            self._parse()
            if len(self.buf) > before:
                return
            if self.eof:
                raise t.Closed()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(262144)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                self.eof = True
                raise t.Closed()
            self.raw += data

    def wait_control(self, opcode, timeout=t.RECV_TIMEOUT):
        """Waits for a control frame of opcode (PONG, CLOSE); returns its payload. MQTT bytes
        that arrive meanwhile stay in the stream."""
        deadline = time.monotonic() + timeout
        while True:
            self._parse()
            for i, (op, p) in enumerate(self.control):
                if op == opcode:
                    del self.control[i]
                    return p
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.eof:
                raise t.TestFailure("%s: no control frame 0x%x within %.1fs" % (self.name, opcode, timeout))
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(262144)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                self.eof = True
            self.raw += data

    def closed_within(self, timeout=t.RECV_TIMEOUT):
        """True when the broker closes (close frame or EOF) within timeout; MQTT data before
        the close is discarded."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
                self.buf.clear()
            except t.Closed:
                return True
            except socket.timeout:
                return False
