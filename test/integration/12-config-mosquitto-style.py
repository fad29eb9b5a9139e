#!/usr/bin/python3
# A Mosquitto-style config (comments, blank lines, listener, max_queued_messages, include_dir) is loaded and takes effect.
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


CONFIG = """# Tern / Mosquitto compatible configuration
# =========================================

# Listeners
listener {port} 127.0.0.1

allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
connection_messages true
max_inflight_messages 20
# only two messages queued per offline client
max_queued_messages 2
message_size_limit 0
retain_available true
max_keepalive 65535

include_dir {dir}/conf.d
"""

def main():
    port2 = t.free_port()
    files = {
        "conf.d/10-second-listener.conf": "# a second listener from include_dir\nlistener %d 127.0.0.1\n" % port2,
        "conf.d/20-empty.conf": "# nothing but a comment\n\n",
        "conf.d/README.txt": "not a config file: include_dir reads only *.conf\n",
    }
    b = t.Broker(config=CONFIG, files=files)
    b.start(wait_ports=[b.port, port2])
    with b:
        for p in (b.port, port2):
            t.round_trip(p, "l%d" % p)
        # max_queued_messages 2 is in effect.
        c = t.connected(b.port, "cfgq", clean=False)
        c.subscribe([("cfg/t", 1)])
        c.disconnect()
        pub = t.connected(port2, "cfgpub")
        for i in range(4):
            pub.publish("cfg/t", b"%d" % i, qos=1, pid=i + 1)
        c = t.Client(b.port, "cfgq")
        c.connect("cfgq", clean=False)
        c.subscribe([("cfg/sync", 1)], pid=2)
        got = [p.payload for p in t.marker_sync(c, pub, "cfg/sync")]
        check_eq(got, [b"0", b"1"], "messages queued with max_queued_messages 2")
        c.disconnect()
        pub.disconnect()

t.run(main)
