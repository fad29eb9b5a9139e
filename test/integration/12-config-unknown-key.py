#!/usr/bin/python3
# An unknown config key stops the broker: Tern exits with status 2 and prints FILE:LINE:, also for a file read by include_dir.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

import tempfile, shutil

def main():
    d = tempfile.mkdtemp(prefix="tern-it-")
    port = t.free_port()
    conf = os.path.join(d, "bad.conf")
    with open(conf, "w") as f:
        f.write("# line 1\nlistener %d 127.0.0.1\nallow_anonymous true\nno_such_option_xyz 1\n" % port)
    rc, out = t.run_broker_to_exit(["-c", conf], timeout=5)
    t.note("status %r, output: %s" % (rc, out.strip()))
    check(rc != 0, "broker exited 0 with an unknown key")
    check(rc > 0, "broker killed by signal %d on an unknown key" % -rc)
    check(not t.port_accepts(port), "broker left something listening")
    if t.tern_only("exit status 2 and FILE:LINE: for an unknown key (Mosquitto exits 3)"):
        check_eq(rc, 2, "exit status for an unknown key")
        check(conf + ":4:" in out, "expected %r in the output, got %r" % (conf + ":4:", out))

    # Same in a file read through include_dir.
    os.mkdir(os.path.join(d, "inc"))
    inc = os.path.join(d, "inc", "x.conf")
    with open(inc, "w") as f:
        f.write("# included\n\nanother_unknown_key yes\n")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\ninclude_dir %s\n" % (port, os.path.join(d, "inc")))
    rc, out = t.run_broker_to_exit(["-c", conf], timeout=5)
    t.note("include_dir: status %r, output: %s" % (rc, out.strip()))
    check(rc > 0, "broker status %r with an unknown key in an included file" % rc)
    if t.tern_only("exit status 2 and FILE:LINE: for an unknown key in an included file"):
        check_eq(rc, 2, "exit status for an unknown key in an included file")
        check(inc + ":3:" in out, "expected %r in the output, got %r" % (inc + ":3:", out))

    # A missing config file is an error too.
    rc, out = t.run_broker_to_exit(["-c", os.path.join(d, "missing.conf")], timeout=5)
    check(rc > 0, "broker status %r for a missing config file" % rc)
    shutil.rmtree(d, ignore_errors=True)

t.run(main)
