#!/usr/bin/python3
# A real browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core from
# test/integration/web, installed with npm ci) loads a page and MQTT.js from Tern's own
# http_dir, connects over ws:// and then over wss:// (a test CA made here with openssl; Chromium
# trusts exactly that server key), subscribes with wildcards, publishes at QoS 0/1/2, receives a
# retained message and a 1 MB payload from a TCP client, and sends 1 MB back.
import hashlib, base64, json, os, shutil, subprocess, sys, tempfile, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tern_test as t
import tern_ws as w
from tern_test import check, check_eq

WEB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
BIG = 1024 * 1024


def npm_ci():
    """Installs the locked npm packages once (again only when the lock file changes)."""
    stamp = os.path.join(WEB, "node_modules", ".tern-lock-sha256")
    want = hashlib.sha256(open(os.path.join(WEB, "package-lock.json"), "rb").read()).hexdigest()
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    check(r.returncode == 0, "npm ci failed:\n" + r.stdout.decode(errors="replace"))
    with open(stamp, "w") as f:
        f.write(want)


def spki_hash(crt):
    pub = subprocess.run(["openssl", "x509", "-in", crt, "-pubkey", "-noout"], check=True,
                         stdout=subprocess.PIPE, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, stdout=subprocess.PIPE, timeout=30).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def pattern(n, shift=0):
    return bytes(((i + shift) * 31 + 7) & 255 for i in range(n))


def run_browser(b, url, scheme, spki=None):
    tcp = t.connected(b.port, "tcp-" + scheme)
    tcp.subscribe([("web/+", 2), ("ready/" + scheme, 1), ("up/" + scheme, 1)])
    cmd = ["node", os.path.join(WEB, "browser_test.js"), url, "40000"] + ([spki] if spki else [])
    proc = subprocess.Popen(cmd, cwd=WEB, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t._procs.append(proc)
    got = {}
    try:
        deadline = time.monotonic() + 45
        while "up/" + scheme not in got:
            check(time.monotonic() < deadline, "%s: browser did not finish (got %s)" % (scheme, sorted(got)))
            p = tcp.recv(timeout=max(0.1, deadline - time.monotonic()), what="browser traffic")
            tcp.ack(p)
            if p.type != t.PUBLISH:
                continue
            got[p.topic] = p
            if p.topic == "ready/" + scheme:
                tcp.publish("big/" + scheme, pattern(BIG), qos=1)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = out.decode(errors="replace").strip().splitlines()
    t.note("browser (%s) stderr:\n%s" % (scheme, err.decode(errors="replace")[-3000:]))
    check(text, "%s: no result from the browser runner" % scheme)
    res = json.loads(text[-1])
    t.note("browser (%s): %s" % (scheme, json.dumps(res)))
    check(res.get("ok"), "%s: the page reported failure: %s" % (scheme, res))
    check_eq(res.get("seen"), {"web/q0": 0, "web/q1": 1, "web/q2": 2}, "%s: QoS seen by the page" % scheme)
    check_eq(proc.returncode, 0, "%s: runner exit status" % scheme)
    for q in (0, 1, 2):
        p = got.get("web/q%d" % q)
        check(p is not None and p.payload == b"hello web/q%d" % q and p.qos == q,
              "%s: TCP subscriber got web/q%d from the browser at QoS %d" % (scheme, q, q))
    up = got["up/" + scheme].payload
    check(len(up) == BIG and up == pattern(BIG, 1), "%s: 1 MB from the browser arrived intact" % scheme)
    tcp.disconnect()


def main():
    for tool in ("/usr/bin/chromium", shutil.which("node"), shutil.which("npm")):
        check(tool and os.path.exists(tool), "missing %s (platform/linux/install-deps.sh test installs it)" % tool)
    npm_ci()
    d = tempfile.mkdtemp(prefix="tern-browser-")
    cafile, crt, key = w.make_test_ca(d)
    www = os.path.join(d, "www")
    os.makedirs(www)
    for f in ("index.html", "page.js"):
        shutil.copy(os.path.join(WEB, f), www)
    shutil.copy(os.path.join(WEB, "node_modules", "mqtt", "dist", "mqtt.min.js"), www)
    ws_port, wss_port = t.free_port(), t.free_port()
    b = t.Broker(config=w.ws_config(ws_port, [
        "http_dir " + www,
        "listener %d 127.0.0.1" % wss_port, "protocol websockets", "http_dir " + www,
        "certfile " + crt, "keyfile " + key]))
    b.start(wait_ports=[b.port, ws_port, wss_port])
    with b:
        pub = t.connected(b.port, "retainer")
        pub.publish("ret/a/x", b"kept", qos=1, retain=True)
        pub.disconnect()
        run_browser(b, "http://127.0.0.1:%d/index.html" % ws_port, "ws")
        run_browser(b, "https://localhost:%d/" % wss_port, "wss", spki_hash(crt))
    shutil.rmtree(d, ignore_errors=True)

t.run(main)
