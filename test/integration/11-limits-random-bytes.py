#!/usr/bin/python3
# Random bytes and bit-flipped valid packets (fixed seed) on 400 connections never crash the broker; a healthy round trip works afterwards.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import random, socket, time

SEED = int(os.environ.get("TERN_TEST_SEED", "1311"))

def valid_session():
    return [t.enc_connect("fz", keepalive=5, will=("fz/will", b"w", 1, True)),
            t.enc_subscribe(1, [("fz/#", 2), ("+/x", 1)]),
            t.enc_publish("fz/a", b"p" * 20, qos=1, pid=2, retain=True),
            t.enc_publish("fz/b", b"q", qos=2, pid=3),
            t.enc_ack(t.PUBREL, 3),
            t.enc_unsubscribe(4, ["fz/#"]),
            t.PINGREQ_PKT]

def poke(port, data):
    s = socket.create_connection((t.HOST, port), timeout=2)
    try:
        s.sendall(data)
        s.settimeout(0.05)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    except OSError:
        pass
    finally:
        s.close()

def main():
    rnd = random.Random(SEED)
    t.note("seed %d" % SEED)
    with t.Broker() as b:
        deadline = time.monotonic() + 30
        for i in range(400):
            check(time.monotonic() < deadline, "took too long (%d cases)" % i)
            kind = i % 3
            if kind == 0:       # pure random bytes
                data = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 300)))
            else:               # a valid session with bit flips / truncation
                pkts = valid_session()
                data = bytearray(b"".join(pkts[:rnd.randint(1, len(pkts))]))
                for _ in range(rnd.randint(1, 4)):
                    pos = rnd.randrange(len(data))
                    data[pos] ^= 1 << rnd.randrange(8)
                if kind == 2 and rnd.random() < 0.5:
                    data = data[:rnd.randrange(1, len(data) + 1)]
                data = bytes(data)
            poke(b.port, data)
            if not b.alive():
                raise t.TestFailure("broker died on case %d (seed %d), input %s" % (i, SEED, data.hex()))
        t.round_trip(b.port, "after-fuzz")

t.run(main)
