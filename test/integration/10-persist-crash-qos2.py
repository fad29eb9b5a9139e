#!/usr/bin/python3
# Durable persistence under SIGKILL at seeded random moments during QoS 2 load: every message the
# publisher got a PUBACK/PUBREC for reaches the persistent subscriber after the restarts, exactly
# once; retained message and subscription survive. See persist_crash.py.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
import persist_crash


def main():
    if not t.tern_only("persistence crash test (Mosquitto loses messages between autosaves)"):
        return
    persist_crash.run(2)

t.run(main)
