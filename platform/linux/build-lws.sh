#!/bin/sh
# Builds the libwebsockets Tern links into the WebSocket transport, once, into OUT.
# Usage: build-lws.sh OUT CC
#
# Debian's libwebsockets-dev (4.1.6) is compiled without LWS_WITH_EXTERNAL_POLL, so it cannot
# tell an outside poll loop which fds it wants to write, and with OpenSSL. The same source,
# built with external poll and mbedTLS (HTTP/2, extensions, test apps and event-lib plugins
# off; libcap off too: Tern never asks lws to drop privileges, and the library would cost every
# process its pages), joins Tern's own loop (STYLE 2.8). The source comes from Debian's archive through
# apt-get with private state folders under OUT: the system's apt configuration is not touched.
#
# When the system's own libwebsockets already has external poll, OUT/use-system is written
# instead and nothing is built. The result is cached: a finished OUT/stamp means done.
set -eu
out="$1"
cc="${2:-cc}"
ver=4.1.6
[ -f "$out/stamp" ] && exit 0
mkdir -p "$out"
out=$(cd "$out" && pwd)

# Serialize concurrent builds (several BUILD dirs share OUT).
exec 9>"$out/.lock"
flock 9
[ -f "$out/stamp" ] && exit 0

if grep -qs '^#define LWS_WITH_EXTERNAL_POLL' /usr/include/lws_config.h &&
   grep -qs '^#define LWS_WITH_MBEDTLS' /usr/include/lws_config.h; then
    echo "tern: using the system libwebsockets (it has external poll)" >&2
    : > "$out/use-system"
    : > "$out/stamp"
    exit 0
fi

# The source is shared by every target's build (build/lws-src), under its own lock.
shared="$(dirname "$out")/lws-src"
mkdir -p "$shared"
exec 8>"$shared/.lock"
flock 8
src="$shared/src"
if [ ! -f "$src/CMakeLists.txt" ]; then
    apt="$shared/apt"
    mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/dl"
    # The system's deb entries rewritten as deb-src, in a private sources folder.
    found=0
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        sed 's/^Types:.*/Types: deb-src/' "$f" > "$apt/parts/$(basename "$f")"
        found=1
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        grep '^deb ' "$f" | sed 's/^deb /deb-src /' >> "$apt/parts/tern.list" || true
        found=1
    done
    [ "$found" = 1 ] || { echo "tern: no apt sources to fetch libwebsockets from" >&2; exit 1; }
    opts="-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$apt/parts
          -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache"
    echo "tern: fetching the libwebsockets $ver source from Debian" >&2
    # shellcheck disable=SC2086
    apt-get $opts update -qq >/dev/null
    # shellcheck disable=SC2086
    (cd "$apt/dl" && apt-get $opts source --download-only "libwebsockets=$ver-*" >/dev/null 2>&1 ||
        apt-get $opts source --download-only libwebsockets >/dev/null)
    tarball=$(ls "$apt/dl"/libwebsockets_*.orig.tar.* | head -n 1)
    rm -rf "$src.tmp"
    mkdir -p "$src.tmp"
    tar -xf "$tarball" -C "$src.tmp" --strip-components=1
    rm -rf "$src"
    mv "$src.tmp" "$src"
fi
flock -u 8

# A cross compiler (CROSS=aarch64-linux-gnu- ...) gets a cross cmake set-up: the target's
# multiarch libraries (libmbedtls-dev:arm64) are found through the compiler's triplet.
target=$("$cc" -dumpmachine)
cross=""
if [ "$target" != "$(cc -dumpmachine 2>/dev/null || gcc -dumpmachine)" ]; then
    cross="-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=${target%%-*}
           -DCMAKE_LIBRARY_ARCHITECTURE=$target -DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER"
fi

echo "tern: building libwebsockets (external poll, mbedTLS) for $target into $out" >&2
rm -rf "$out/cmake"
mkdir -p "$out/cmake"
# shellcheck disable=SC2086
(cd "$out/cmake" && cmake "$src" -DCMAKE_C_COMPILER="$cc" $cross -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$out" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_C_FLAGS="-fPIC -Wno-error" \
    -DLWS_WITH_EXTERNAL_POLL=ON -DLWS_WITH_SSL=ON -DLWS_WITH_MBEDTLS=ON \
    -DLWS_WITH_HTTP2=OFF -DLWS_WITHOUT_EXTENSIONS=ON -DLWS_WITH_ZLIB=OFF \
    -DLWS_WITH_ZIP_FOPS=OFF -DLWS_WITH_EVLIB_PLUGINS=OFF -DLWS_WITH_LIBUV=OFF \
    -DLWS_WITH_LIBEV=OFF -DLWS_WITH_LIBEVENT=OFF -DLWS_WITH_GLIB=OFF \
    -DLWS_WITHOUT_TESTAPPS=ON -DLWS_WITHOUT_TEST_SERVER=ON -DLWS_WITHOUT_TEST_CLIENT=ON \
    -DLWS_WITHOUT_TEST_PING=ON -DLWS_WITH_MINIMAL_EXAMPLES=OFF -DLWS_WITH_SHARED=OFF \
    -DLWS_WITH_STATIC=ON -DLWS_IPV6=ON -DLWS_WITH_SYS_SMD=OFF -DLWS_WITH_SYS_STATE=OFF \
    -DLWS_WITH_DIR=OFF -DLWS_WITH_LEJP_CONF=OFF -DLWS_WITH_CUSTOM_HEADERS=OFF \
    -DLWS_HAVE_LIBCAP=OFF \
    >"$out/cmake.log" 2>&1 &&
    make -j"$(nproc)" >>"$out/cmake.log" 2>&1 && make install >>"$out/cmake.log" 2>&1) || {
    echo "tern: libwebsockets build failed; see $out/cmake.log" >&2
    tail -n 30 "$out/cmake.log" >&2
    exit 1
}
grep -q '^#define LWS_WITH_EXTERNAL_POLL' "$out/include/lws_config.h" || {
    echo "tern: built libwebsockets lacks LWS_WITH_EXTERNAL_POLL" >&2
    exit 1
}
: > "$out/stamp"
