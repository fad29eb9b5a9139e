#!/bin/sh
# Installs a built Tern: `make install` runs it (PREFIX, DESTDIR, SYSCONFDIR as usual).
# Usage: install.sh BUILD_DIR PREFIX SYSCONFDIR STRIP [DESTDIR]
#   BUILD/tern             -> DESTDIR/PREFIX/sbin/tern (stripped with STRIP)
#   BUILD/tern_passwd etc. -> DESTDIR/PREFIX/bin/ (each tool that was built)
#   conf/tern.conf         -> DESTDIR/SYSCONFDIR/tern/tern.conf, never over an existing one
#   tern.service           -> DESTDIR/lib/systemd/system (PREFIX=/usr) or PREFIX/lib/systemd/system
#   README.md              -> DESTDIR/PREFIX/share/doc/tern/
# Installing into the running system (no DESTDIR, as root) also creates the system user
# "tern" and, under systemd, enables and (re)starts tern.service, as the Debian package does
# (START=0 in the environment skips the start).
set -eu
build=$1 prefix=$2 sysconfdir=$3 strip=$4 destdir=${5:-}
tools="tern_passwd"
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

if [ "$prefix" = /usr ]; then unitdir=/lib/systemd/system; else unitdir=$prefix/lib/systemd/system; fi
docdir=$prefix/share/doc/tern
[ -x "$build/tern" ] || { echo "install.sh: $build/tern is not built" >&2; exit 1; }

install -d "$destdir$prefix/sbin" "$destdir$sysconfdir/tern" "$destdir$unitdir" "$destdir$docdir"
install -m 755 --strip-program="$strip" -s "$build/tern" "$destdir$prefix/sbin/tern"
for t in $tools; do
    if [ -x "$build/$t" ]; then
        install -d "$destdir$prefix/bin"
        install -m 755 --strip-program="$strip" -s "$build/$t" "$destdir$prefix/bin/$t"
    fi
done
conf=$destdir$sysconfdir/tern/tern.conf
if [ -e "$conf" ]; then
    echo "install.sh: keeping the existing $conf (the new default is conf/tern.conf)"
else
    install -m 644 "$top/conf/tern.conf" "$conf"
fi
sed -e "s|@SBINDIR@|$prefix/sbin|g" -e "s|@SYSCONFDIR@|$sysconfdir|g" -e "s|@DOCDIR@|$docdir|g" \
    "$here/tern.service.in" > "$destdir$unitdir/tern.service"
chmod 644 "$destdir$unitdir/tern.service"
install -m 644 "$top/README.md" "$destdir$docdir/README.md"

if [ -z "$destdir" ] && [ "$(id -u)" -eq 0 ]; then
    "$here/deb/postinst" user-only
    if [ -d /run/systemd/system ] && [ "${START:-1}" != 0 ]; then
        systemctl daemon-reload
        systemctl enable tern.service
        systemctl restart tern.service
        echo "install.sh: tern.service is running; logs: journalctl -u tern"
    elif [ -d /run/systemd/system ]; then
        systemctl daemon-reload
        echo "install.sh: start Tern with:  systemctl enable --now tern"
    fi
fi
