#!/usr/bin/python3
# -p PORT adds a listener: alone (config without listener) and, in Tern, beside a config listener.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    b = t.Broker(config="# no listener here\nallow_anonymous true\n")
    b.args = ["-p", str(b.port)]
    with b.start():
        t.round_trip(b.port, "p-only")
    if t.tern_only("-p beside a listener from the config (Mosquitto ignores -p then)"):
        port2 = t.free_port()
        b = t.Broker(args=["-p", str(port2)])
        b.start(wait_ports=[b.port, port2])
        with b:
            t.round_trip(b.port, "cfg")
            t.round_trip(port2, "cmd")

t.run(main)
