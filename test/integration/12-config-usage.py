#!/usr/bin/python3
# -h prints usage (naming -c and -p) and exits without listening.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def main():
    rc, out = t.run_broker_to_exit(["-h"], timeout=5)
    t.note("status %r" % rc)
    check(rc >= 0, "broker killed by signal %d on -h" % -rc)
    check("usage" in out.lower(), "no usage text in -h output: %r" % out)
    check("-c" in out and "-p" in out, "usage does not mention -c and -p: %r" % out)
    rc, out = t.run_broker_to_exit(["--no-such-flag"], timeout=5)
    check(rc > 0, "unknown command-line option: status %r (expected failure)" % rc)

t.run(main)
