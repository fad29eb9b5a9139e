#!/usr/bin/python3
"""Writes the seed corpus for test/fuzz/fuzz_codec.c: one file per valid MQTT 3.1/3.1.1 packet
type a server receives (plus a few server-to-client packets and one multi-packet stream).

Usage: test/fuzz/make_codec_corpus.py [OUTDIR]   (default: test/fuzz/corpus/codec)
The encoding is written out here by hand, independent of src/codec.c, so the seeds also check
the codec against a second reading of the spec (MQTT 3.1.1 sections 2 and 3).
"""
import os
import struct
import sys


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def s(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return struct.pack(">H", len(data)) + data


def packet(first, body):
    return bytes([first]) + varint(len(body)) + body


def connect(name, level, flags, keepalive, fields):
    return packet(0x10, s(name) + bytes([level, flags]) + struct.pack(">H", keepalive)
                  + b"".join(s(f) for f in fields))


def publish(topic, qos, payload, pid=0, retain=False, dup=False):
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = s(topic) + (struct.pack(">H", pid) if qos else b"") + payload
    return packet(first, body)


def ack(first, pid):
    return packet(first, struct.pack(">H", pid))


def seeds():
    sub = packet(0x82, struct.pack(">H", 10) + s("a/b") + b"\x00" + s("sport/+/player1")
                 + b"\x01" + s("#") + b"\x02" + s("caf\u00e9/+/#") + b"\x01")
    unsub = packet(0xA2, struct.pack(">H", 11) + s("a/b") + s("sport/+/player1"))
    conn311 = connect("MQTT", 4, 0x02, 60, ["client-311"])
    # 3.1: user name, password, will retain, will QoS 1, will flag; clean session 0.
    conn31 = connect("MQIsdp", 3, 0x80 | 0x40 | 0x20 | 0x08 | 0x04, 30,
                     ["client-31", "last/will", b"gone\x00", "user", b"pass\xff"])
    return {
        "connect_311": conn311,
        "connect_31_will_user_pass": conn31,
        "publish_qos0": publish("a/b", 0, b"hello"),
        "publish_qos1": publish("sensors/\u20ac/temp", 1, b"21.5", pid=1, dup=True),
        "publish_qos2": publish("x/y/z", 2, bytes(range(200)), pid=65535, retain=True),
        "puback": ack(0x40, 1),
        "pubrec": ack(0x50, 2),
        "pubrel": ack(0x62, 2),
        "pubcomp": ack(0x70, 2),
        "subscribe_multi": sub,
        "unsubscribe": unsub,
        "pingreq": packet(0xC0, b""),
        "disconnect": packet(0xE0, b""),
        # Server-to-client packets, exercised by the is_server=false pass.
        "connack": packet(0x20, b"\x01\x00"),
        "suback": packet(0x90, struct.pack(">H", 10) + b"\x00\x01\x02\x80"),
        "unsuback": ack(0xB0, 11),
        "pingresp": packet(0xD0, b""),
        # A whole session in one stream, as a connection's input buffer would hold it.
        "stream_session": conn311 + sub + publish("a/b", 1, b"x", pid=3) + ack(0x62, 4)
        + packet(0xC0, b"") + unsub + packet(0xE0, b""),
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "codec")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds written to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
