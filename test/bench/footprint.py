#!/usr/bin/python3
"""
Tern's footprint on a board (what `make footprint` prints; the README's footprint table).

  footprint.py BROKER [ARM_BROKER] [--window SECONDS] [--no-persistence]

For each binary: its size stripped (a stripped copy in a temp dir, with the target's strip),
the part of it that is the statically linked mbedTLS (summed from the link map the Makefile
writes beside the binary, BINARY.map), and the shared libraries it needs.
For BROKER (native): idle RSS after start-up as the median, lowest and highest of --starts
starts (default 15; the shared libraries' pages are mapped in 64 KB windows aligned in the
randomized address space, so one start can differ from the next by 100-200 KB), with PSS and
the part private to Tern; RSS with 1,000
idle clients connected (keepalive 600 s, one subscription each), and what the idle broker
wrote in a window (default 60 s) from
/proc/PID/io: write_bytes (bytes the process caused to be sent to storage) and wchar (bytes
passed to write(2) and friends, sockets and pipes included), once without persistence and once
with `persistence true` and 1,000 persistent sessions. Every process started here is
stopped by pid; all traffic is on 127.0.0.1.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HOST = "127.0.0.1"


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def stripped_size(path, strip):
    d = tempfile.mkdtemp()
    try:
        dst = os.path.join(d, "bin")
        shutil.copy(path, dst)
        subprocess.run([strip, dst], check=True)
        return os.path.getsize(dst)
    finally:
        shutil.rmtree(d)


def mbedtls_bytes(binary):
    """Bytes of the file's sections that come from libmbed{tls,x509,crypto}.a, from the GNU ld
    map BINARY.map (input-section lines: ' NAME ADDR SIZE ARCHIVE(OBJECT)', NAME on its own
    line when long). None when there is no map (e.g. MBEDTLS_STATIC=0)."""
    path = binary + ".map"
    if not os.path.exists(path):
        return None
    total, started, pending = 0, False, None
    skip = (".debug", ".comment", ".note", ".gnu.warning", ".bss", ".tbss", "COMMON")
    with open(path) as f:
        for line in f:
            if not started:
                started = line.startswith("Linker script and memory map")
                continue
            if line.startswith(" ") and not line.startswith("  "):
                parts = line.split()
                if len(parts) == 1:
                    pending = parts[0]
                    continue
                name, rest = parts[0], parts[1:]
            elif pending and line.startswith("                "):
                name, rest = pending, line.split()
            else:
                pending = None
                continue
            pending = None
            if len(rest) < 3 or not rest[0].startswith("0x") or name.startswith(skip):
                continue
            if "libmbedtls.a(" in rest[2] or "libmbedx509.a(" in rest[2] \
                    or "libmbedcrypto.a(" in rest[2]:
                total += int(rest[1], 16)
    return total


def stop(proc):
    """SIGTERM to the broker this script started (by its pid), SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def idle_rss(binary, starts):
    """Starts the broker `starts` times on an idle listener; [(rss_kb, pss_kb, uss_kb)]."""
    out = []
    for _ in range(starts):
        d = tempfile.mkdtemp(prefix="tern-fp-")
        port = free_port()
        conf = os.path.join(d, "tern.conf")
        with open(conf, "w") as f:
            f.write("listener %d %s\nallow_anonymous true\nlog_dest none\n" % (port, HOST))
        proc = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
        try:
            wait_port(port, proc)
            time.sleep(0.5)
            pss = 0
            with open("/proc/%d/smaps_rollup" % proc.pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = int(line.split()[1])
            out.append((rss_kb(proc.pid), pss, private_kb(proc.pid)))
        finally:
            stop(proc)
            shutil.rmtree(d, ignore_errors=True)
    return out


def needed(path):
    out = subprocess.run(["readelf", "-d", path], stdout=subprocess.PIPE, check=True).stdout
    libs = []
    for line in out.decode().splitlines():
        if "(NEEDED)" in line:
            libs.append(line.split("[", 1)[1].rstrip("]"))
    return libs


def machine(path):
    out = subprocess.run(["readelf", "-h", path], stdout=subprocess.PIPE, check=True).stdout
    for line in out.decode().splitlines():
        if "Machine:" in line:
            return line.split(":", 1)[1].strip()
    return "?"


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def private_kb(pid):
    """Pages only this process holds (USS: private clean + dirty), from smaps_rollup."""
    total = 0
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def io(pid):
    vals = {}
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            k, v = line.split(":")
            vals[k] = int(v)
    return vals


def enc_str(s):
    return struct.pack("!H", len(s)) + s


def connect_pkt(cid, clean=True):
    flags = 0x02 if clean else 0x00
    body = enc_str(b"MQTT") + bytes([4, flags]) + struct.pack("!H", 600) + enc_str(cid)
    return bytes([0x10, len(body)]) + body


def subscribe_pkt(topic):
    body = struct.pack("!H", 1) + enc_str(topic) + b"\x00"
    return bytes([0x82, len(body)]) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("broker closed a client")
        buf += chunk
    return buf


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("broker exited with %r" % proc.returncode)
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen")


def measure_native(binary, window, n_clients=1000, persistence=False):
    """persistence: persistence on, clients with persistent sessions (clean session 0), so
    every session and subscription is in the log before the idle window starts."""
    d = tempfile.mkdtemp(prefix="tern-fp-")
    port = free_port()
    conf = os.path.join(d, "tern.conf")
    with open(conf, "w") as f:
        f.write("listener %d %s\nallow_anonymous true\nlog_dest none\n" % (port, HOST))
        if persistence:
            f.write("persistence true\npersistence_location %s\n" % d)
    proc = subprocess.Popen([binary, "-c", conf], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=d)
    clients = []
    res = {}
    try:
        wait_port(port, proc)
        time.sleep(1.0)
        res["idle_rss_kb"] = rss_kb(proc.pid)
        res["idle_uss_kb"] = private_kb(proc.pid)
        for i in range(n_clients):
            s = socket.create_connection((HOST, port), timeout=5)
            s.sendall(connect_pkt(b"fp-%d" % i, clean=not persistence))
            clients.append(s)
        for s in clients:
            ack = recv_exact(s, 4)
            if ack[0] != 0x20 or ack[3] != 0:
                raise RuntimeError("CONNACK refused: %r" % ack)
        res["rss_1000_connected_kb"] = rss_kb(proc.pid)
        for i, s in enumerate(clients):
            s.sendall(subscribe_pkt(b"fp/%d/+" % i))
        for s in clients:
            recv_exact(s, 5)
        time.sleep(0.5)
        res["rss_1000_subscribed_kb"] = rss_kb(proc.pid)
        res["uss_1000_subscribed_kb"] = private_kb(proc.pid)
        before = io(proc.pid)
        time.sleep(window)
        after = io(proc.pid)
        res["window_s"] = window
        res["write_bytes"] = after["write_bytes"] - before["write_bytes"]
        res["wchar"] = after["wchar"] - before["wchar"]
        res["rss_after_window_kb"] = rss_kb(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError("broker died during the window")
    finally:
        for s in clients:
            s.close()
        stop(proc)
        shutil.rmtree(d, ignore_errors=True)
    return res


def main():
    args = [a for a in sys.argv[1:] if a != "--no-persistence"]
    window = 60.0
    starts = 15
    if "--starts" in args:
        i = args.index("--starts")
        starts = int(args[i + 1])
        del args[i:i + 2]
    if "--window" in args:
        i = args.index("--window")
        window = float(args[i + 1])
        del args[i:i + 2]
    if not args:
        print(__doc__)
        return 2
    native = os.path.abspath(args[0])
    arm = args[1] if len(args) > 1 else None
    rows = [("x86-64" if "X86-64" in machine(native) else machine(native), native, "strip")]
    if arm and os.path.exists(arm):
        rows.append(("aarch64", arm, "aarch64-linux-gnu-strip"))
    for name, path, strip in rows:
        size = stripped_size(path, strip)
        print("binary %-8s stripped %7d bytes (%.0f KB); shared libraries: %s"
              % (name, size, size / 1024.0, ", ".join(needed(path))))
        mb = mbedtls_bytes(path)
        if mb is not None:
            print("       %-8s of which mbedTLS (static) %d bytes; without it %d bytes (%.0f KB)"
                  % (name, mb, size - mb, (size - mb) / 1024.0))
        tools = os.path.join(os.path.dirname(path), "tern_passwd")
        if os.path.exists(tools):
            ts = stripped_size(tools, strip)
            print("tool   %-8s tern_passwd stripped %d bytes (%.0f KB)" % (name, ts, ts / 1024.0))
    runs = sorted(idle_rss(native, starts))
    mid = runs[len(runs) // 2]
    print("idle RSS over %d starts: median %d KB (lowest %d, highest %d); PSS %d KB, private to"
          " Tern %d KB (at the median start; the rest is shared library pages)"
          % (len(runs), mid[0], runs[0][0], runs[-1][0], mid[1], mid[2]))
    r = measure_native(native, window)
    print("idle RSS (the 1,000-client run's start) %5d KB (private to Tern: %d KB)"
          % (r["idle_rss_kb"], r["idle_uss_kb"]))
    print("RSS, 1,000 idle clients connected      %6d KB" % r["rss_1000_connected_kb"])
    print("RSS, 1,000 idle clients, 1 sub each    %6d KB (%.0f bytes per client over idle)"
          % (r["rss_1000_subscribed_kb"],
             (r["rss_1000_subscribed_kb"] - r["idle_rss_kb"]) * 1024.0 / 1000))
    print("  private to Tern                      %6d KB" % r["uss_1000_subscribed_kb"])
    print("idle %.0f s with 1,000 clients: write_bytes %d, wchar %d; per hour: %d bytes to disk"
          % (r["window_s"], r["write_bytes"], r["wchar"],
             r["write_bytes"] * 3600 / r["window_s"]))
    if "--no-persistence" not in sys.argv:
        r = measure_native(native, window, persistence=True)
        print("persistence true, 1,000 persistent sessions: idle %.0f s: write_bytes %d, wchar %d;"
              " per hour: %d bytes to disk" % (r["window_s"], r["write_bytes"], r["wchar"],
                                               r["write_bytes"] * 3600 / r["window_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
