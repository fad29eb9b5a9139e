#!/bin/sh
# Checks the Debian package `make deb` built: control fields, the exact file list, the conffile,
# and the unit's hardening. With --install (host architecture only) it also installs the package
# into a scratch root with dpkg --root (maintainer scripts run chrootless and see $DPKG_ROOT, so
# nothing outside the scratch root changes), runs the installed binary, changes the conffile and
# reinstalls (the change must survive, as on an upgrade), then removes (conffile stays) and
# purges (conffile gone).
# Usage: test/pkg/check-deb.sh BUILD_DIR DEB_ARCH [--install]
set -eu
build=$1 arch=$2 mode=${3:-}
fail() { echo "check-deb: FAIL: $*" >&2; exit 1; }
deb=$(ls "$build"/tern_*_"$arch".deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no $build/tern_*_$arch.deb"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = tern ] || fail "Package is not tern"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture $(field Architecture), want $arch"
case "$(field Depends)" in *libc6*) ;; *) fail "Depends lacks libc6: $(field Depends)" ;; esac

# The exact file list (tern_passwd only when it was built).
dpkg-deb -c "$deb" | awk '{print $NF}' | grep -v '/$' | sort > "$tmp/got"
{
    echo ./etc/tern/tern.conf
    echo ./lib/systemd/system/tern.service
    [ -x "$build/tern_passwd" ] && echo ./usr/bin/tern_passwd
    echo ./usr/sbin/tern
    echo ./usr/share/doc/tern/README.md
} | sort > "$tmp/want"
diff -u "$tmp/want" "$tmp/got" || fail "file list differs (- expected, + in package)"

dpkg-deb -e "$deb" "$tmp/ctl"
[ "$(cat "$tmp/ctl/conffiles")" = /etc/tern/tern.conf ] || fail "conffiles: $(cat "$tmp/ctl/conffiles")"
for s in postinst prerm postrm; do [ -x "$tmp/ctl/$s" ] || fail "no executable $s"; done

dpkg-deb -x "$deb" "$tmp/x"
unit=$tmp/x/lib/systemd/system/tern.service
for line in Type=notify User=tern ProtectSystem=strict StateDirectory=tern NoNewPrivileges=yes \
    AmbientCapabilities=CAP_NET_BIND_SERVICE Restart=on-failure WatchdogSec=30 \
    "ExecStart=/usr/sbin/tern -c /etc/tern/tern.conf"; do
    grep -qx "$line" "$unit" || fail "tern.service lacks '$line'"
done
readelf -h "$tmp/x/usr/sbin/tern" | grep -q 'Type:.*DYN\|Type:.*EXEC' || fail "usr/sbin/tern is not ELF"
if readelf -S "$tmp/x/usr/sbin/tern" | grep -q '\.debug_info\|\.symtab'; then
    fail "usr/sbin/tern is not stripped"
fi
# systemd's own check, where systemd is installed (not on minimal CI images): any complaint
# (an unknown key, a bad value) fails. ExecStart must exist, so it points at the extracted copy.
verified=""
if command -v systemd-analyze >/dev/null 2>&1 && [ "$arch" = "$(dpkg --print-architecture)" ]; then
    mkdir "$tmp/unit"
    sed "s|^ExecStart=/usr/sbin/tern|ExecStart=$tmp/x/usr/sbin/tern|" "$unit" > "$tmp/unit/tern.service"
    systemd-analyze verify "$tmp/unit/tern.service" > "$tmp/verify" 2>&1 || true
    [ ! -s "$tmp/verify" ] || { cat "$tmp/verify" >&2; fail "systemd-analyze verify tern.service"; }
    verified=" (systemd-analyze verify)"
fi
echo "check-deb: $deb: control, $(wc -l < "$tmp/got") files, conffile, unit$verified: ok"

[ "$mode" = --install ] || exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "check-deb: not root: skipping the dpkg --root install"
    exit 0
fi
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
: > "$root/var/lib/dpkg/status"
dpkg_root() {
    dpkg --root="$root" --force-script-chrootless --force-depends --force-confold \
        --log=/dev/null "$@" </dev/null >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log" >&2; return 1; }
}
dpkg_root -i "$deb" || fail "dpkg --root -i"
dpkg --root="$root" -L tern | sort > "$tmp/listed"
for f in /usr/sbin/tern /etc/tern/tern.conf /lib/systemd/system/tern.service; do
    grep -qx "$f" "$tmp/listed" || fail "dpkg -L tern lacks $f"
done
"$root/usr/sbin/tern" --version | grep -q "^tern version" || fail "installed tern --version"
echo "# changed by check-deb" >> "$root/etc/tern/tern.conf"
dpkg_root -i "$deb" || fail "dpkg --root -i (reinstall)"
grep -q "changed by check-deb" "$root/etc/tern/tern.conf" || fail "reinstall overwrote the changed conffile"
dpkg_root -r tern || fail "dpkg --root -r"
[ ! -e "$root/usr/sbin/tern" ] || fail "remove left /usr/sbin/tern"
[ -e "$root/etc/tern/tern.conf" ] || fail "remove deleted the conffile"
dpkg_root -P tern || fail "dpkg --root -P"
[ ! -e "$root/etc/tern/tern.conf" ] || fail "purge left the conffile"
echo "check-deb: dpkg --root install, conffile kept on reinstall, remove, purge: ok"
