#!/usr/bin/python3
# Malformed and forbidden input, one case per connection: the broker closes that connection, and
# after each case the broker is alive and a healthy client still gets a publish/subscribe round trip.
import os, random, sys, socket, struct
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

s = t.enc_str
pk = t.packet

def raw_publish(topic_bytes, qos=0, pid=1, payload=b"x", first=None):
    body = struct.pack("!H", len(topic_bytes)) + topic_bytes
    if qos:
        body += struct.pack("!H", pid)
    return pk(first if first is not None else 0x30 | (qos << 1), body + payload)

def connect_with_flags(flags, payload):
    return pk(0x10, s("MQTT") + bytes([4, flags]) + b"\x00\x3c" + payload)

# (name, send CONNECT first?, bytes, options)
# options: "half-close": shutdown our write side after sending; "tern": Tern-only case.
CASES = [
    ("remaining length of 5 bytes", True, b"\x30\xff\xff\xff\xff\x01", ()),
    ("remaining length of 5 bytes in CONNECT", False, b"\x10\xff\xff\xff\xff\x01", ()),
    ("PUBLISH with QoS 3", True, raw_publish(b"a/b", first=0x36, payload=b"\x00\x01x"), ()),
    ("SUBSCRIBE with fixed-header flags 0", True, b"\x80\x06\x00\x01\x00\x01a\x00", ()),
    ("UNSUBSCRIBE with fixed-header flags 0", True, b"\xa0\x05\x00\x01\x00\x01a", ()),
    ("PUBREL with fixed-header flags 0", True, b"\x60\x02\x00\x01", ()),
    ("reserved packet type 0", True, b"\x00\x00", ()),
    ("reserved packet type 15", True, b"\xf0\x00", ()),
    ("PUBLISH topic with '+'", True, t.enc_publish("a/+/c", b"x"), ()),
    ("PUBLISH topic with '#'", True, t.enc_publish("a/#", b"x"), ()),
    ("PUBLISH topic with invalid UTF-8 (0xFF)", True, raw_publish(b"a/\xff"), ()),
    ("PUBLISH topic with overlong UTF-8 (C0 80)", True, raw_publish(b"a/\xc0\x80"), ()),
    ("PUBLISH topic with a UTF-16 surrogate (ED A0 80)", True, raw_publish(b"a/\xed\xa0\x80"), ()),
    ("PUBLISH topic with U+0000", True, raw_publish(b"a/\x00b"), ()),
    ("PUBLISH with an empty topic", True, raw_publish(b""), ()),
    ("PUBLISH QoS 1 with packet id 0", True, t.enc_publish("a/b", b"x", qos=1, pid=0), ()),
    ("PUBLISH QoS 2 with packet id 0", True, t.enc_publish("a/b", b"x", qos=2, pid=0), ()),
    ("PUBLISH topic length beyond the packet", True, b"\x30\x05\x00\x64abc", ()),
    ("CONNECT with U+0000 in the client id", False, t.enc_connect("ab\x00c"), ()),
    ("CONNECT with invalid UTF-8 in the client id", False, connect_with_flags(0x02, b"\x00\x03a\xffb"), ()),
    ("CONNECT with will QoS 3", False, connect_with_flags(0x02 | 0x04 | 0x18, s("c") + s("w/t") + s("m")), ()),
    ("CONNECT with will QoS but no will flag", False, connect_with_flags(0x02 | 0x08, s("c")), ()),
    ("CONNECT payload shorter than its flags promise", False, connect_with_flags(0x02 | 0x80, s("c")), ()),
    ("truncated CONNECT then half-close", False, t.enc_connect("trunc")[:9], ("half-close",)),
    ("garbage bytes instead of CONNECT", False, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ()),
    ("garbage bytes after CONNECT", True, b"\xde\xad\xbe\xef" * 4, ()),
    ("SUBSCRIBE without topic filters", True, b"\x82\x02\x00\x01", ()),
    ("SUBSCRIBE requesting QoS 3", True, t.enc_subscribe(1, [("a/b", 3)]), ()),
    ("UNSUBSCRIBE without topic filters", True, b"\xa2\x02\x00\x01", ()),
    ("CONNACK sent by a client", True, b"\x20\x02\x00\x00", ()),
    # Spec violations that Mosquitto 2.0.11 tolerates (it answers the PINGREQ with PINGRESP and
    # ignores the SUBACK); Tern closes, as MQTT-4.8.0-1 asks.
    ("PINGREQ with a payload", True, b"\xc0\x01\x00", ("tern",)),
    ("SUBACK sent by a client", True, b"\x90\x03\x00\x01\x00", ("tern",)),
    # Tern closes the connection as soon as a header announces more than message_size_limit
    # (+ headers); Mosquitto waits for the whole packet and then drops the PUBLISH.
    ("remaining length over message_size_limit", True, b"\x30" + t.enc_varint(100000) + s("a/b") + b"x" * 100, ("tern",)),
    # Truncated packets: the client goes quiet mid-packet and half-closes; the broker must end
    # the connection on EOF instead of waiting for bytes that will never come.
    ("fixed header only, then half-close", True, b"\x30", ("half-close",)),
    ("remaining length cut after continuation bytes", True, b"\x30\x80\x80", ("half-close",)),
    ("PUBLISH body shorter than its remaining length", True, b"\x30\x0a\x00\x03a/b", ("half-close",)),
    ("QoS 1 PUBLISH without its packet id", True, b"\x32\x05\x00\x03a/b", ()),
    ("PUBLISH with remaining length 0", True, b"\x30\x00", ()),
    ("CONNECT with remaining length 0", False, b"\x10\x00", ()),
    ("CONNECT with fixed-header flags 1", False, b"\x11" + t.enc_connect("flags")[1:], ()),
    ("CONNECT with the reserved connect flag set", False, connect_with_flags(0x03, s("c")), ()),
    ("CONNECT with password but no user name", False, connect_with_flags(0x02 | 0x40, s("c") + s("pw")), ()),
    ("CONNECT with invalid UTF-8 in the user name", False, connect_with_flags(0x02 | 0x80, s("c") + b"\x00\x02\xc3\x28"), ()),
    ("CONNECT with a will topic containing '#'", False, connect_with_flags(0x02 | 0x04, s("c") + s("w/#") + s("m")), ()),
    ("CONNECT with protocol name MQTX", False, t.enc_connect("pn", proto_name="MQTX"), ("allow-connack",)),
    ("CONNECT with protocol level 5", False, t.enc_connect("lvl", level=5), ("allow-connack",)),
    ("second CONNECT on one connection", True, t.enc_connect("again"), ()),
    ("PUBACK with remaining length 3", True, b"\x40\x03\x00\x01\x00", ()),
    ("PUBREC with remaining length 1", True, b"\x50\x01\x00", ()),
    ("PINGREQ with fixed-header flags 1", True, b"\xc1\x00", ()),
    ("DISCONNECT with fixed-header flags 1", True, b"\xe1\x00", ()),
    ("SUBSCRIBE with '#' not last", True, t.enc_subscribe(1, [("a/#/b", 0)]), ()),
    ("SUBSCRIBE with '+' inside a level", True, t.enc_subscribe(1, [("a+/b", 0)]), ()),
    ("SUBSCRIBE with an empty filter", True, t.enc_subscribe(1, [("", 0)]), ()),
    ("SUBSCRIBE with reserved bits in the QoS byte", True, b"\x82\x06\x00\x01\x00\x01a\x04", ()),
    ("SUBSCRIBE filter with invalid UTF-8", True, b"\x82\x07\x00\x01\x00\x02a\xfe\x00", ()),
    ("UNSUBSCRIBE with '#' not last", True, t.enc_unsubscribe(1, ["#/a"]), ()),
    ("SUBSCRIBE before CONNECT", False, t.enc_subscribe(1, [("a", 0)]), ()),
    ("PUBLISH before CONNECT", False, t.enc_publish("a", b"x"), ()),
] + [
    # Seeded random garbage after a valid CONNECT, then half-close: whatever the bytes parse
    # as, the broker answers (or not) and closes; nothing crashes.
    ("seeded random garbage #%d" % k, True,
     bytes(random.Random(8000 + k).getrandbits(8) for _ in range(16 + 40 * k)), ("half-close", "any-reply"))
    for k in range(5)
]

def run_case(port, name, do_connect, data, opts):
    c = t.Client(port, name)
    if do_connect:
        c.connect("malformed")
    try:
        c.send(data)
    except OSError:
        pass   # closed while we were still sending: fine, checked below
    if "half-close" in opts:
        c.sock.shutdown(socket.SHUT_WR)
    allow = ()
    if "allow-connack" in opts:
        allow = (t.CONNACK,)     # a refusing CONNACK (3.1.2-2) may come before the close
    if "any-reply" in opts:
        allow = tuple(range(16))
    c.expect_closed(timeout=t.RECV_TIMEOUT, allow=allow, what=name)
    c.close()

def main():
    check(len(CASES) >= 50, "at least 50 cases")
    failures = []
    with t.Broker(["message_size_limit 1000"]) as b:
        for i, (name, do_connect, data, opts) in enumerate(CASES):
            if "tern" in opts and not t.tern_only(name):
                continue
            try:
                run_case(b.port, name, do_connect, data, opts)
            except t.TestFailure as e:
                failures.append("%s: %s" % (name, e))
            except OSError as e:
                failures.append("%s: socket error %r" % (name, e))
            if not b.alive():
                failures.append("%s: BROKER DIED (exit status %r)" % (name, b.proc.poll()))
                break
            try:
                t.round_trip(b.port, "rt%d" % i)
            except Exception as e:
                failures.append("%s: healthy round trip afterwards failed: %s" % (name, e))
        for f in failures:
            t.note("FAILED CASE: " + f)
        check(not failures, "%d of %d malformed-input cases failed" % (len(failures), len(CASES)))

t.run(main)
