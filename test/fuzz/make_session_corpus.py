#!/usr/bin/python3
"""Writes the seed corpus for test/fuzz/fuzz_session.c: whole client sessions in that target's
record format (byte 0: limits; then [op][len][bytes] records, see the comment at the top of
fuzz_session.c). Each seed is a scenario a real deployment sees: publish/subscribe across two
clients, QoS 1 and 2 flows both ways, retained messages, persistent sessions with an offline
queue, takeover, wills, a slow subscriber, packets split at every byte, packets larger than a
small read buffer.

Usage: test/fuzz/make_session_corpus.py [OUTDIR]   (default: test/fuzz/corpus/session)
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_codec_corpus import ack, connect, packet, publish, s  # noqa: E402

SEND, CLOSE, PAUSE, BYTEWISE = 0, 1, 2, 3


def rec(op, slot, data=b""):
    """One record; data longer than 255 bytes becomes several records."""
    out = b""
    if op in (CLOSE, PAUSE):
        return bytes([(op << 2) | slot, 0])
    while True:
        chunk, data = data[:255], data[255:]
        out += bytes([(op << 2) | slot, len(chunk)]) + chunk
        if not data:
            return out


def cfg(inflight=3, queued=3, qos0=False, tiny_out=False, rbuf=3):
    return bytes([inflight | (queued << 2) | (int(qos0) << 4) | (int(tiny_out) << 5)
                  | (rbuf << 6)])


def sub(pid, *filters):
    body = struct.pack(">H", pid)
    for f, q in filters:
        body += s(f) + bytes([q])
    return packet(0x82, body)


def unsub(pid, *filters):
    return packet(0xA2, struct.pack(">H", pid) + b"".join(s(f) for f in filters))


def conn(cid, clean=True, keepalive=60, will=None):
    flags = 0x02 if clean else 0
    fields = [cid]
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        fields += [topic, msg]
    return connect("MQTT", 4, flags, keepalive, fields)


PING = packet(0xC0, b"")
DISC = packet(0xE0, b"")


def seeds():
    pubsub = (cfg() + rec(SEND, 0, conn("sub") + sub(1, ("a/+", 2), ("#", 0)))
              + rec(SEND, 1, conn("pub") + publish("a/b", 0, b"q0") + publish("a/b", 1, b"q1", pid=1)
                    + publish("a/b", 2, b"q2", pid=2) + ack(0x62, 2))
              + rec(SEND, 0, ack(0x40, 1) + ack(0x50, 2) + ack(0x70, 2) + PING)
              + rec(SEND, 1, unsub(3, "a/+") + DISC) + rec(SEND, 0, DISC))
    persistent = (cfg(inflight=1, queued=1) + rec(SEND, 0, conn("p", clean=False) + sub(1, ("q/#", 1)))
                  + rec(CLOSE, 0)
                  + rec(SEND, 1, conn("w") + b"".join(publish("q/%d" % i, 1, b"m", pid=i + 1)
                                                        for i in range(5)))
                  + rec(SEND, 0, conn("p", clean=False) + ack(0x40, 1) + ack(0x40, 2)))
    takeover = (cfg() + rec(SEND, 0, conn("same", clean=False, will=("will/t", "bye", 1, True)))
                + rec(SEND, 2, conn("watch") + sub(1, ("will/#", 1)))
                + rec(SEND, 1, conn("same", clean=False)) + rec(CLOSE, 1)
                + rec(SEND, 0, PING))
    retained = (cfg() + rec(SEND, 0, conn("r") + publish("r/1", 1, b"kept", pid=9, retain=True)
                            + publish("r/2", 0, b"x", retain=True) + publish("r/2", 0, b"", retain=True))
                + rec(SEND, 1, conn("s") + sub(4, ("r/#", 1), ("r/+", 0))))
    slow = (cfg(qos0=True, tiny_out=True) + rec(SEND, 0, conn("slow") + sub(1, ("f/#", 1)))
            + rec(PAUSE, 0)
            + rec(SEND, 1, conn("flood") + b"".join(publish("f/x", i % 2, b"y" * 200, pid=i + 1)
                                                    for i in range(12)))
            + rec(PAUSE, 0) + rec(SEND, 0, ack(0x40, 2) + ack(0x40, 4)))
    bytewise = (cfg(rbuf=0) + rec(BYTEWISE, 0, conn("bytes") + sub(7, ("b/+", 2)))
                + rec(BYTEWISE, 0, publish("b/c", 2, b"split", pid=5) + ack(0x62, 5) + PING))
    large = (cfg(rbuf=1) + rec(SEND, 0, conn("big") + sub(1, ("big", 0)))
             + rec(SEND, 1, conn("bigpub") + publish("big", 1, bytes(range(256)) * 6, pid=1))
             + rec(SEND, 1, publish("big", 0, b"z" * 3000)))
    bad_first = cfg() + rec(SEND, 0, PING) + rec(SEND, 1, conn("ok") + PING)
    # Memory capped at what is in use plus 16 KiB, then a flood: allocation failures everywhere.
    capped = (cfg(qos0=True) + rec(SEND, 0, conn("capped", clean=False) + sub(1, ("m/#", 2)))
              + bytes([(PAUSE << 2) | 0, 16]) + rec(PAUSE, 0)
              + rec(SEND, 1, conn("mpub") + b"".join(publish("m/%d" % i, i % 3, b"q" * 900, pid=i + 1)
                                                    for i in range(12)))
              + rec(CLOSE, 0) + rec(SEND, 2, conn("late") + sub(2, ("m/+", 1))))
    mqtt31 = (cfg() + rec(SEND, 0, connect("MQIsdp", 3, 0x02 | 0x80 | 0x40, 10, ["old", "u", "p"])
                          + sub(2, ("x", 1)) + publish("x", 1, b"31", pid=3) + ack(0x40, 1)))
    return {
        "pubsub_qos012": pubsub,
        "persistent_offline_queue": persistent,
        "takeover_will": takeover,
        "retained": retained,
        "slow_subscriber": slow,
        "bytewise_small_rbuf": bytewise,
        "large_packet_small_rbuf": large,
        "first_not_connect": bad_first,
        "mqtt31_auth_fields": mqtt31,
        "memory_capped_flood": capped,
    }


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "session")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds written to %s" % (len(seeds()), out))


if __name__ == "__main__":
    main()
