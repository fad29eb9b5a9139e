#!/usr/bin/python3
# GET /metrics on a "protocol http" listener: Prometheus text whose values match known
# traffic (PUBLISHes in and out, an offline session's queue, a queue-full drop with its
# reason label, connections per listener); the format parses (HELP/TYPE before samples,
# counters end in _total); other paths and methods get 404/405; an oversized request is
# closed; the MQTT listener still works beside it.
# Then, with persistence and dead_letter_topic: GET /metrics on a WebSocket listener (404 for
# other paths), dead letters by reason, the largest queue in bytes, and the fsync latency
# histogram (cumulative buckets, +Inf = _count, a positive _sum).
import os, re, socket, sys, urllib.error, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
from tern_test import check, check_eq

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+]+)$')


def http(port, request):
    s = socket.create_connection((t.HOST, port), timeout=3)
    s.sendall(request)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:   # closed with our unread request bytes pending
            break
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def scrape(port):
    raw = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n")
    head, _, body = raw.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.0 200 "), "status line: %r" % head[:40])
    check(b"Content-Type: text/plain; version=0.0.4" in head, "content type: %r" % head)
    m = re.search(rb"Content-Length: (\d+)", head)
    check(m and int(m.group(1)) == len(body), "Content-Length matches the body")
    return parse(body)


def parse(body):
    samples = {}
    types = {}
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ")
            types[name] = typ
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        check(m is not None, "sample line parses: %r" % line)
        name = m.group(1)
        check(name.startswith("tern_"), "tern_ prefix: %s" % name)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        if types.get(base) == "histogram":
            name_type = "histogram"
        else:
            check(name in types, "TYPE given before %s" % name)
            name_type = types[name]
        check((name_type == "counter") == name.endswith("_total"),
              "_total exactly on counters: %s (%s)" % (name, name_type))
        samples[name + (m.group(2) or "")] = float(m.group(3))
    return samples


def main():
    if not t.tern_only("Prometheus endpoint"):
        return
    hport = t.free_port()
    b = t.Broker(extra=["max_queued_messages 2",
                        "listener %d %s" % (hport, t.HOST), "protocol http"])
    b.start(wait_ports=[b.port, hport])
    with b:
        sub = t.connected(b.port, "worker", clean=False)
        sub.subscribe([("jobs/#", 1)])
        sub.disconnect()
        pub = t.connected(b.port, "pub")
        for i in range(3):            # two queued, the third over max_queued_messages
            pub.publish("jobs/a", b"job%d" % i, qos=1, pid=i + 1)
        pub.publish("jobs/b", b"x", qos=0)   # QoS 0: not queued for the offline session
        live = t.connected(b.port, "live")
        live.subscribe([("jobs/#", 0)])
        pub.publish("jobs/c", b"y", qos=0)
        live.expect_publish("jobs/c", b"y")
        s = scrape(hport)
        want = {
            "tern_messages_received_total": 5,
            "tern_messages_sent_total": 1,
            "tern_queued_messages": 2,
            'tern_dropped_messages_total{reason="queue-full"}': 1,
            'tern_dropped_messages_total{reason="slow-subscriber"}': 0,
            "tern_clients_connected": 2,
            "tern_sessions": 3,
            "tern_subscriptions": 2,
            "tern_connects_accepted_total": 3,
            'tern_listener_connections{listener="%s:%d",transport="tcp"}' % (t.HOST, b.port): 2,
            'tern_listener_connections{listener="%s:%d",transport="http"}' % (t.HOST, hport): 1,
        }
        for k, v in want.items():
            check_eq(s.get(k), v, k)
        check(s["tern_received_bytes_total"] > 0 and s["tern_sent_bytes_total"] > 0, "bytes")
        check(s.get('tern_build_info{version="0.1.0"}') == 1, "build info")
        # Counters move with traffic.
        pub.publish("jobs/c", b"z", qos=0)
        live.expect_publish("jobs/c", b"z")
        s2 = scrape(hport)
        check_eq(s2["tern_messages_received_total"], 6, "received after one more")
        check_eq(s2["tern_http_requests_total"], 2, "requests answered")
        # Not /metrics, not GET, too large.
        check(http(hport, b"GET /nope HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 404 "), "404")
        check(http(hport, b"POST /metrics HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 405 "),
              "405")
        check_eq(http(hport, b"GET /" + b"a" * 5000), b"", "oversized request closed unanswered")
        for c in (pub, live):
            c.disconnect()
        check("tern_persist_sync_seconds_count" not in s2, "no sync histogram without persistence")
    websocket_and_persistence()


def websocket_and_persistence():
    wport = t.free_port()
    b = t.Broker(extra=["max_queued_messages 1", "dead_letter_topic dlq",
                        "persistence true", "listener %d %s" % (wport, t.HOST),
                        "protocol websockets"])
    with open(b.conf_path, "a") as f:
        f.write("persistence_location %s\n" % os.path.join(b.dir, "db"))
    b.start(wait_ports=[b.port, wport])
    with b:
        sub = t.connected(b.port, "worker", clean=False)
        sub.subscribe([("jobs/#", 1)])
        sub.disconnect()
        pub = t.connected(b.port, "pub")
        pub.publish("jobs/a", b"0123456789", qos=1, pid=1)   # queued
        pub.publish("jobs/a", b"over", qos=1, pid=2)         # queue full: dead letter
        with urllib.request.urlopen("http://%s:%d/metrics" % (t.HOST, wport), timeout=5) as r:
            check_eq(r.status, 200, "GET /metrics on the WebSocket listener")
            check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
                  "content type: %r" % r.headers["Content-Type"])
            s = parse(r.read())
        check_eq(s.get('tern_dead_letters_total{reason="queue-full"}'), 1, "dead letter counted")
        check_eq(s.get('tern_dead_letters_total{reason="expired"}'), 0, "no expired ones")
        check_eq(s.get('tern_dropped_messages_total{reason="queue-full"}'), 1, "drop counted")
        check(s.get("tern_queued_bytes_max", 0) >= 10 + len("jobs/a"),
              "largest queue in bytes: %r" % s.get("tern_queued_bytes_max"))
        n = s.get("tern_persist_sync_seconds_count", 0)
        check(n >= 2, "fsyncs observed: %r" % n)
        buckets = sorted((float(k.split('"')[1]) if '+Inf' not in k else float("inf"), v)
                         for k, v in s.items() if k.startswith("tern_persist_sync_seconds_bucket"))
        check(len(buckets) >= 10, "buckets: %r" % buckets)
        check(all(a[1] <= b2[1] for a, b2 in zip(buckets, buckets[1:])), "cumulative buckets")
        check_eq(buckets[-1], (float("inf"), n), "+Inf bucket = _count")
        check(s["tern_persist_sync_seconds_sum"] > 0, "positive sum")
        for path in ("/", "/metrics/x", "/nope"):
            try:
                urllib.request.urlopen("http://%s:%d%s" % (t.HOST, wport, path), timeout=5)
                check(False, "GET %s on the WebSocket listener should fail" % path)
            except urllib.error.HTTPError as e:
                check_eq(e.code, 404, "GET %s on the WebSocket listener" % path)
        t.round_trip(b.port, "after-scrape")
        pub.disconnect()


t.run(main)
