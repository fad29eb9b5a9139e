#!/usr/bin/python3
# message_expiry: queued messages older than their lifetime are never delivered; each is
# dead-lettered on dlq/expired/TOPIC with its payload and QoS and counted.
#  1. persistence: a persistent subscriber is offline, QoS 1 and 2 messages are queued, the
#     broker restarts and the lifetime passes while it is down: after the restart the subscriber
#     gets only the message a `message_expiry 0 PATTERN` rule keeps, and an offline dead-letter
#     subscriber gets both dead letters (QoS kept) once it reconnects.
#  2. the periodic sweep drops an expired message while its subscriber stays offline (a live
#     dead-letter watcher sees it, and the Prometheus counters count it).
#  3. precedence: a pattern rule beats the listener's value, which beats the global one.
#  4. SIGHUP: a new global message_expiry and a new dead_letter_topic take effect.
import os, sys, signal, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq


def offline_sub(port, cid, filters):
    c = t.connected(port, cid, clean=False)
    c.subscribe([(f, 2) for f in filters])
    c.disconnect()


def reconnect(port, cid):
    c = t.Client(port, cid)
    check_eq(c.connect(cid, clean=False).session_present, 1, "%s: session present" % cid)
    return c


def restart(b, n):
    b.stop()
    check_eq(b.returncode, 0, "exit status after SIGTERM")
    b.log_path = os.path.join(b.dir, "broker-%d.log" % n)
    b.stopped = False
    b.returncode = None
    b.start()


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, v = line.rpartition(" ")
            values[name] = float(v)
    return values


def wait_log(b, text, timeout=5.0):
    deadline = time.monotonic() + timeout
    while text not in b.log():
        check(time.monotonic() < deadline, "%r not logged within %.1f s; log:\n%s"
              % (text, timeout, b.log()))
        time.sleep(0.05)


def persisted_restart():
    b = t.Broker()
    db = os.path.join(b.dir, "db")
    with open(b.conf_path, "a") as f:
        f.write("persistence true\npersistence_location %s\ndead_letter_topic dlq\n"
                "message_expiry 0 keep/#\nmessage_expiry 0 dlq/#\nmessage_expiry 2\n" % db)
    with b:
        offline_sub(b.port, "ex-sub", ["exp/#", "keep/#"])
        offline_sub(b.port, "ex-dlq", ["dlq/#"])
        pub = t.connected(b.port, "ex-pub")
        pub.publish("exp/one", b"old-1", qos=1, pid=1)
        pub.send(t.enc_publish("exp/two", b"old-2", qos=2, pid=2))
        pub.expect(t.PUBREC, 2)
        pub.send(t.enc_ack(t.PUBREL, 2))
        pub.expect(t.PUBCOMP, 2)
        pub.publish("keep/one", b"kept", qos=1, pid=3)
        pub.disconnect()
        # Stop at once (before the sweep could drop anything), stay down past the lifetime.
        b.stop()
        check("Dropping expired" not in b.log(), "nothing expired before the stop")
        time.sleep(2.5)
        b.stopped = False
        b.returncode = None
        b.log_path = os.path.join(b.dir, "broker-2.log")
        b.start()
        sub = reconnect(b.port, "ex-sub")
        sub.expect_publish("keep/one", b"kept", qos=1)
        sub.expect_nothing(timeout=0.5, what="no expired message after the restart")
        dlq = reconnect(b.port, "ex-dlq")
        got = {}
        for _ in range(2):
            p = dlq.recv(what="a dead letter")
            check_eq(p.type, t.PUBLISH, "ex-dlq: packet type")
            dlq.ack(p)
            got[p.topic] = (p.payload, p.qos, p.retain)
        check_eq(got, {"dlq/expired/exp/one": (b"old-1", 1, False),
                       "dlq/expired/exp/two": (b"old-2", 2, False)}, "dead letters")
        dlq.expect_nothing(timeout=0.3, what="two dead letters only")
        check("Dropping expired messages for client ex-sub" in b.log(),
              "the drop is logged: %s" % b.log())
        sub.disconnect()
        dlq.disconnect()
        # The upgraded (version 2) log and the arrival times of live messages survive a
        # second restart: a message with 60 s left is still delivered.
        with open(b.conf_path, "a") as f:
            f.write("message_expiry 60\n")
        restart(b, 3)
        pub = t.connected(b.port, "ex-pub")
        pub.publish("exp/fresh", b"fresh", qos=1, pid=4)
        pub.disconnect()
        restart(b, 4)
        sub = reconnect(b.port, "ex-sub")
        sub.expect_publish("exp/fresh", b"fresh", qos=1)
        sub.disconnect()


def live_rules_and_reload():
    p2 = t.free_port()
    ph = t.free_port()
    head = ("listener {port} 127.0.0.1\nallow_anonymous true\n"
            "message_expiry 0 long/#\nmessage_expiry 1 short/#\n")
    tail = ("listener %d 127.0.0.1\nmessage_expiry 1\n"
            "listener %d 127.0.0.1\nprotocol http\n" % (p2, ph))
    b = t.Broker(config=head + "dead_letter_topic dlq\n" + tail)
    b.start(wait_ports=[b.port, p2, ph])
    with b:
        watch = t.connected(b.port, "lr-watch")
        watch.subscribe([("dlq/#", 1), ("dlq2/#", 1)])
        offline_sub(b.port, "lr-sub", ["short/#", "long/#", "a/#", "b/#"])
        # 2. the sweep, with the subscriber offline: global 0, pattern short/# = 1 s.
        pub1 = t.connected(b.port, "lr-pub1")
        pub1.publish("short/a", b"s1", qos=1, pid=1)
        watch.expect_publish("dlq/expired/short/a", b"s1", qos=1, timeout=4)
        m = scrape(ph)
        check_eq(m.get('tern_dropped_messages_total{reason="expired"}'), 1.0,
                 "expired drops counted")
        check_eq(m.get('tern_dead_letters_total{reason="expired"}'), 1.0,
                 "expired dead letters counted")
        check_eq(m.get("tern_queued_messages"), 0.0, "the sweep emptied the queue")
        # 3. precedence: through p2 (listener 1 s): b/x expires, long/x (rule 0) stays;
        # through the first listener (global 0) a/x stays.
        pub2 = t.connected(p2, "lr-pub2")
        pub2.publish("b/x", b"bx", qos=1, pid=1)
        pub2.publish("long/x", b"lx", qos=1, pid=2)
        pub1.publish("a/x", b"ax", qos=1, pid=2)
        watch.expect_publish("dlq/expired/b/x", b"bx", qos=1, timeout=4)
        time.sleep(1.2)
        sub = reconnect(b.port, "lr-sub")
        got = sorted((p.topic, p.payload) for p in sub.collect(2))
        check_eq(got, [("a/x", b"ax"), ("long/x", b"lx")], "messages that did not expire")
        sub.expect_nothing(timeout=0.3, what="only the unexpired messages")
        sub.disconnect()
        watch.expect_nothing(timeout=0.3, what="no further dead letter")
        # 4. SIGHUP: global message_expiry 1 and dead_letter_topic dlq2.
        with open(b.conf_path, "w") as f:
            f.write(head.replace("{port}", str(b.port)) + "dead_letter_topic dlq2\n"
                    "message_expiry 1\n" + tail)
        before = b.log().count("Reloaded")
        b.proc.send_signal(signal.SIGHUP)
        t.settle_log(b, "Reloaded", before)
        check(b.log().count("Reloaded") > before, "reload logged: %s" % b.log())
        pub1.publish("a/y", b"ay", qos=1, pid=3)
        watch.expect_publish("dlq2/expired/a/y", b"ay", qos=1, timeout=4)
        sub = reconnect(b.port, "lr-sub")
        sub.expect_nothing(timeout=0.5, what="a/y expired after the reload")
        for c in (sub, watch, pub1, pub2):
            c.disconnect()


def main():
    if not t.tern_only("message_expiry (Tern's own key)"):
        return
    persisted_restart()
    live_rules_and_reload()


t.run(main)
