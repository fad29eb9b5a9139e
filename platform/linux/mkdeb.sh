#!/bin/sh
# Builds the Debian package of a built Tern with dpkg-deb alone (no debhelper, no network).
# Usage: mkdeb.sh BUILD_DIR DEB_ARCH STRIP OUT_DIR   (make deb runs it; prints the .deb path)
# The tree is what `make install PREFIX=/usr` lays out; /etc/tern/tern.conf is a conffile, so
# dpkg keeps a changed one on upgrade; Depends lists the package of every shared library the
# binaries need (found with readelf and dpkg -S, so it works for a cross-built arm64 tree too).
set -eu
build=$1 arch=$2 strip=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
version=$(sed -n 's/^#define TERN_VERSION "\(.*\)"$/\1/p' "$top/include/tern/tern.h")
[ -n "$version" ] || { echo "mkdeb.sh: no TERN_VERSION in include/tern/tern.h" >&2; exit 1; }

stage=$build/deb/tern_${version}_$arch
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$out"
"$here/install.sh" "$build" /usr /etc "$strip" "$stage" >/dev/null

# Depends: the package (of this architecture) that ships each needed shared library.
depends=""
for f in "$stage"/usr/sbin/* "$stage"/usr/bin/*; do
    [ -f "$f" ] || continue
    readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u > "$build/deb/needed"
while read -r so; do
    owner=$(dpkg -S "*/$so" 2>/dev/null | grep "^[^ ]*:$arch: " | head -n 1 | cut -d: -f1)
    if [ -z "$owner" ]; then
        echo "mkdeb.sh: no $arch package ships $so" >&2
        exit 1
    fi
    v=$(dpkg-query -W -f='${Version}' "$owner:$arch")
    v=${v#*:}
    dep="$owner (>= ${v%%-*})"
    case ",$depends," in *",$dep,"*) ;; *) depends="${depends:+$depends, }$dep" ;; esac
done < "$build/deb/needed"

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CTRL
Package: tern
Version: $version
Architecture: $arch
Maintainer: Tern developers <tern@localhost>
Section: net
Priority: optional
Installed-Size: $size
Depends: ${depends:+$depends, }passwd
Description: small MQTT 3.1.1 broker for Linux servers and Raspberry Pi gateways
 Tern is a single-threaded MQTT 3.1.1 broker that reads Mosquitto's
 configuration syntax. This package runs it as the systemd service
 tern.service (user tern, /etc/tern/tern.conf, state in /var/lib/tern).
CTRL
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) > "$stage/DEBIAN/conffiles"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
    xargs md5sum) > "$stage/DEBIAN/md5sums"
install -m 755 "$here/deb/postinst" "$here/deb/prerm" "$here/deb/postrm" "$stage/DEBIAN/"
deb=$out/tern_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
