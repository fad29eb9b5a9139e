#!/usr/bin/python3
# WebSocket framing edge cases (MQTT 3.1.1 section 6, RFC 6455) against raw frames: an MQTT
# packet split over several frames and over a fragmented message, several packets in one frame,
# ping/pong, the close handshake, a text frame, a wrong or missing subprotocol, an oversized
# frame, and a client that stops mid-handshake. After each hostile case a healthy pair still
# works, so one bad client never stalls the loop.
import os, socket, struct, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
import tern_ws as w
from tern_test import check, check_eq


def healthy(b, wsport, tag):
    sub = w.WSClient(wsport, tag + "-sub")
    sub.connect(tag + "-sub")
    sub.subscribe([(tag + "/#", 1)])
    tcp = t.connected(b.port, tag + "-tcp")
    tcp.publish(tag + "/x", b"ok", qos=1)
    sub.expect_publish(tag + "/x", b"ok", qos=1)
    sub.disconnect()
    tcp.disconnect()


def main():
    wsport = t.free_port()
    b = t.Broker(config=w.ws_config(wsport, ["message_size_limit 1000"]))
    b.start(wait_ports=[b.port, wsport])
    with b:
        sub = t.connected(b.port, "tcp-sub")
        sub.subscribe([("f/#", 2)])

        # Subprotocols: "mqtt" and "mqttv3.1" are accepted and echoed.
        for proto in ("mqtt", "mqttv3.1"):
            c = w.WSClient(wsport, "proto-" + proto, subprotocol=proto)
            check_eq(c.protocol, proto, "negotiated subprotocol")
            c.connect("p-" + proto.replace(".", ""))
            c.disconnect()
        # A list offering mqtt among others gets mqtt.
        c = w.WSClient(wsport, "proto-list", subprotocol="foo, mqtt")
        check_eq(c.protocol, "mqtt", "subprotocol chosen from a list")
        c.close()

        # Wrong and missing subprotocol: the upgrade is refused.
        for proto in ("foo", None):
            try:
                c = w.WSClient(wsport, "bad-proto", subprotocol=proto)
            except w.HandshakeRefused as e:
                t.note("subprotocol %r refused: %s" % (proto, e))
            else:
                raise t.TestFailure("upgrade with subprotocol %r was accepted" % proto)

        # One MQTT packet split over three binary frames (each a complete message).
        c = w.WSClient(wsport, "split")
        c.connect("split")
        pkt = t.enc_publish("f/split", b"0123456789" * 20, qos=1, pid=7)
        for part in (pkt[:1], pkt[1:5], pkt[5:]):
            c.send(part)
            time.sleep(0.02)
        c.expect(t.PUBACK, 7)
        sub.expect_publish("f/split", b"0123456789" * 20)

        # One packet as a fragmented message: BIN(fin=0), CONT(fin=0), CONT(fin=1).
        pkt = t.enc_publish("f/frag", b"abcdef" * 30, qos=2, pid=8)
        c.send_frame(w.OP_BIN, pkt[:3], fin=False)
        c.send_frame(w.OP_CONT, pkt[3:50], fin=False)
        c.send_frame(w.OP_PING, b"mid")          # a control frame between fragments is legal
        c.send_frame(w.OP_CONT, pkt[50:], fin=True)
        c.expect(t.PUBREC, 8)
        check_eq(c.wait_control(w.OP_PONG), b"mid", "pong payload")
        c.send(t.enc_ack(t.PUBREL, 8))
        c.expect(t.PUBCOMP, 8)
        sub.expect_publish("f/frag", b"abcdef" * 30, qos=2)

        # Several packets in one frame, the last one cut and finished by the next frame.
        many = b"".join(t.enc_publish("f/many", b"m%d" % i, qos=0) for i in range(5))
        tail = t.enc_publish("f/many", b"last", qos=1, pid=9)
        c.send(many + tail[:4])
        c.send(tail[4:])
        c.expect(t.PUBACK, 9)
        got = sub.collect(6)
        check_eq([p.payload for p in got], [b"m0", b"m1", b"m2", b"m3", b"m4", b"last"],
                 "packets from one frame, in order")

        # Ping/pong with a payload, then PINGREQ still works.
        c.send_frame(w.OP_PING, b"hello")
        check_eq(c.wait_control(w.OP_PONG), b"hello", "pong echoes the ping payload")
        c.ping()

        # Close handshake: the broker answers with a close frame and ends the connection.
        c.send_frame(w.OP_CLOSE, struct.pack("!H", 1000))
        c.wait_control(w.OP_CLOSE)
        check(c.closed_within(3), "connection ended after the close handshake")
        healthy(b, wsport, "h1")

        # A text frame closes the connection (section 6.0: binary frames only).
        c = w.WSClient(wsport, "text")
        c.connect("text")
        c.send_frame(w.OP_TEXT, t.PINGREQ_PKT)
        check(c.closed_within(3), "text frame closes the connection")

        # An oversized frame: announces 2^40 bytes and starts a PUBLISH over message_size_limit.
        c = w.WSClient(wsport, "huge")
        c.connect("huge")
        big = bytes([0x30]) + t.enc_varint(50 * 1000 * 1000) + t.enc_str("f/huge")
        c.send_frame(w.OP_BIN, big + b"x" * 1000, length=1 << 40)
        check(c.closed_within(3), "oversized frame / packet closes the connection")
        check("message_size_limit" in b.log() or "larger" in b.log(), "logged as too large")

        # A PUBLISH just over message_size_limit is dropped as over TCP; one at it arrives.
        c = w.WSClient(wsport, "limit")
        c.connect("limit")
        c.send(t.enc_publish("f/limit", b"y" * 1001, qos=0))
        c.publish("f/limit", b"z" * 1000, qos=1)
        sub.expect_publish("f/limit", b"z" * 1000)
        sub.expect_nothing(what="nothing from the oversized publishers")
        c.disconnect()

        # A client that stops mid-handshake neither blocks others nor stays forever.
        half = socket.create_connection((t.HOST, wsport), timeout=3)
        half.sendall(b"GET /mqtt HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n")
        silent = socket.create_connection((t.HOST, wsport), timeout=3)
        healthy(b, wsport, "h2")
        for s in (half, silent):
            s.settimeout(15)
            start = time.monotonic()
            try:
                data = s.recv(4096)
                while data:
                    data = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                pass
            check(time.monotonic() - start < 14, "half-open handshake closed by the broker")
            s.close()

        # Raw garbage instead of HTTP.
        g = socket.create_connection((t.HOST, wsport), timeout=3)
        g.sendall(b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00\r\n\r\n")
        g.settimeout(5)
        try:
            while g.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        g.close()
        healthy(b, wsport, "h3")
        sub.disconnect()

t.run(main)
