#!/bin/sh
# build-windows.sh - the libraries of the Windows cross build, from Debian's
# source packages, built with Debian's gcc-mingw-w64 into a cache outside the
# repository.
#
#   scripts/build-windows.sh            build what is missing, write build-win/deps.mak
#   scripts/build-windows.sh --print    show what would be used, build nothing
#
# Nothing is downloaded from anywhere but the Debian mirror apt is configured
# with, and nothing built here is committed. The sources come from `apt-get
# source` through a private apt configuration (deb-src lines derived from the
# configured Debian mirror, in $CACHE/apt): /etc/apt is not touched.
#
# Each library is built into its own prefix, named after the source package
# version, the compiler version and the recipe revision below:
#     $CACHE/x86_64-w64-mingw32/<package>-<version>-gcc<version>-r<recipe>
# so a new Debian version or a changed recipe builds again, and anything else
# is reused (CI keeps $CACHE between runs). Timings of each build go to
# $CACHE/timings.log.
#
# Libraries: inih, cJSON, cmocka (the unit tests), TRE (POSIX regcomp/regexec:
# the MinGW C library has none), OpenSSL's libcrypto (JWT signatures, base64),
# libcurl with Schannel (Windows' own TLS, certificates from the Windows store).
# LDAP is Windows' wldap32, which mingw-w64 ships.
#
# Environment: DUALSYNC_MINGW_CACHE (default /var/cache/dualsync-mingw),
# DUALSYNC_SRC_EXTRA_SUITES (suites tried after the configured ones when the
# mirror lacks a source package; default: the next Debian release),
# JOBS (parallel make, default nproc).
set -eu

HOST=x86_64-w64-mingw32
CACHE=${DUALSYNC_MINGW_CACHE:-/var/cache/dualsync-mingw}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$HERE/build-win
PRINT=0
[ "${1:-}" = "--print" ] && PRINT=1

# A recipe revision per library: bump it when its build steps below change.
R_INIH=1 R_CJSON=1 R_CMOCKA=2 R_TRE=2 R_OPENSSL=3 R_CURL=3

say() { printf 'build-windows: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# ---- tools, from Debian's packages ---------------------------------------
need_pkgs=
command -v $HOST-gcc >/dev/null || need_pkgs="$need_pkgs gcc-mingw-w64-x86-64"
command -v wine >/dev/null || need_pkgs="$need_pkgs wine wine64"
command -v dpkg-source >/dev/null || need_pkgs="$need_pkgs dpkg-dev"
command -v make >/dev/null || need_pkgs="$need_pkgs make"
command -v perl >/dev/null || need_pkgs="$need_pkgs perl"
command -v pkg-config >/dev/null || need_pkgs="$need_pkgs pkg-config"
command -v xz >/dev/null || need_pkgs="$need_pkgs xz-utils"
if [ -n "$need_pkgs" ]; then
    [ $PRINT = 1 ] && die "missing:$need_pkgs"
    say "installing$need_pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null
fi
GCCVER=$($HOST-gcc -dumpversion)

# ---- private apt configurations with deb-src lines -------------------------
# "primary": the suites apt is configured with; "fallback": the next Debian
# release, asked only for a package the primary suites cannot serve (this
# mirror may list a source package whose files it does not hold).
APTDIR=$CACHE/apt
apto() { # the apt options of configuration $1
    echo "-o Dir::Etc::SourceList=$APTDIR/$1/sources.list -o Dir::Etc::SourceParts=$APTDIR/$1/parts.d" \
         "-o Dir::State::Lists=$APTDIR/$1/lists -o Dir::Cache=$APTDIR/$1/cache -o APT::Sandbox::User=root"
}

apt_config() { # name, then the deb-src lines on stdin
    d=$APTDIR/$1
    mkdir -p "$d/parts.d" "$d/lists/partial" "$d/cache/archives/partial"
    cat >"$d/sources.list.new"
    if ! cmp -s "$d/sources.list.new" "$d/sources.list" 2>/dev/null \
       || [ -z "$(find "$d/lists" -name '*Sources*' -mtime -1 2>/dev/null)" ]; then
        mv "$d/sources.list.new" "$d/sources.list"
        say "apt-get update ($1: $(grep -v '^#' "$d/sources.list" | awk '{print $4}' | tr '\n' ' '))"
        # shellcheck disable=SC2046
        apt-get $(apto "$1") update -q >/dev/null
    else
        rm -f "$d/sources.list.new"
    fi
}

setup_apt() {
    # The Debian repositories apt already uses ("500 URI suite/component arch
    # Packages" followed by "release ...o=Debian..." in apt-cache policy).
    repos=$(apt-cache policy | awk '
        /^ *[0-9]+ (http|https|file):/ { uri = $2; split($3, sc, "/"); next }
        /release .*o=Debian/ && uri != "" { print uri, sc[1], sc[2]; uri = "" }' | sort -u)
    [ -n "$repos" ] || die "no Debian repository in apt's configuration; add one (deb.debian.org) and run apt-get update"
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    case $codename in
        bullseye) next=bookworm ;;
        bookworm) next=trixie ;;
        trixie) next=forky ;;
        *) next= ;;
    esac
    extra=${DUALSYNC_SRC_EXTRA_SUITES-$next}
    main_uri=$(echo "$repos" | awk '$2 !~ /security/ { print $1; exit }')
    key=/usr/share/keyrings/debian-archive-keyring.gpg
    echo "$repos" | while read -r uri suite comp; do
        echo "deb-src [signed-by=$key] $uri $suite $comp"
    done | apt_config primary
    CONFIGS=primary
    if [ -n "$extra" ]; then
        for s in $extra; do echo "deb-src [signed-by=$key] $main_uri $s main"; done | apt_config fallback
        CONFIGS="primary fallback"
    fi
}

# The versions of a source package in configuration $1: the one matching the
# installed -dev package first (so Windows builds what Linux links), then
# newest first.
versions_of() {
    conf=$1 pkg=$2 devpkg=$3
    # shellcheck disable=SC2046
    all=$(apt-cache $(apto "$conf") showsrc "$pkg" 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -urV)
    inst=$(dpkg-query -W -f '${source:Version}' "$devpkg" 2>/dev/null || true)
    { if [ -n "$inst" ]; then echo "$all" | grep -Fx "$inst" || true; fi; echo "$all"; } |
        awk 'NF && !seen[$0]++'
}

# fetch PKG DEVPKG: download and unpack (Debian patches applied) the first
# version the mirror can serve whole; sets SRCDIR and VERSION. A mirror may
# list a version whose files are gone (security updates move fast): the next
# one is tried, and the fallback suites last.
fetch() {
    pkg=$1 devpkg=$2
    for conf in $CONFIGS; do
        for v in $(versions_of "$conf" "$pkg" "$devpkg"); do
            dir=$CACHE/src/$pkg-$v
            if [ -f "$dir/.unpacked" ]; then
                SRCDIR=$(cat "$dir/.unpacked") VERSION=$v
                return 0
            fi
            # a version found missing today is not asked for again today
            miss=$CACHE/src/.missing-$pkg-$v
            [ -n "$(find "$miss" -mtime -1 2>/dev/null)" ] && continue
            rm -rf "$dir"
            mkdir -p "$dir"
            # shellcheck disable=SC2046
            if (cd "$dir" && apt-get $(apto "$conf") source -q --download-only "$pkg=$v" >fetch.log 2>&1); then
                dsc=$(ls "$dir"/*.dsc)
                (cd "$dir" && dpkg-source -q -x "$dsc" tree >>fetch.log 2>&1) \
                    || die "$pkg $v: dpkg-source failed, see $dir/fetch.log"
                echo "$dir/tree" >"$dir/.unpacked"
                SRCDIR=$dir/tree VERSION=$v
                return 0
            fi
            say "$pkg $v: not (or not whole) on the mirror, trying the next version"
            rm -rf "$dir"
            touch "$miss"
        done
    done
    die "no version of the source package $pkg could be fetched from the Debian mirror"
}

# The prefix of one library; a stamp file marks a finished build.
prefix_of() { echo "$CACHE/$HOST/$1-$2-gcc$GCCVER-r$3"; }

timed() {
    name=$1
    shift
    t0=$(date +%s)
    "$@"
    t1=$(date +%s)
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $name $((t1 - t0))s jobs=$JOBS" >>"$CACHE/timings.log"
    say "$name built in $((t1 - t0)) s"
}

write_pc() { # file name version cflags libs
    mkdir -p "$(dirname "$1")"
    printf 'prefix=%s\nName: %s\nDescription: %s (dualsync Windows build)\nVersion: %s\nCflags: %s\nLibs: %s\n' \
        "$(dirname "$(dirname "$(dirname "$1")")")" "$2" "$2" "$3" "$4" "$5" >"$1"
}

CC=$HOST-gcc
AR=$HOST-ar
WCFLAGS="-O2 -g"

need_def() { # FILE MACRO...: configure must have defined each MACRO
    f=$1 && shift
    for m in "$@"; do
        grep -q "^#define $m\b" "$f" || { echo "$f: $m is not defined; the configure options no longer decide it"; exit 1; }
    done
}
no_def() { # FILE MACRO...: configure must have left each MACRO undefined
    f=$1 && shift
    for m in "$@"; do
        ! grep -q "^#define $m\b" "$f" || { echo "$f: $m is defined; the configure options no longer decide it"; exit 1; }
    done
}

# ---- the recipes ------------------------------------------------------------

build_inih() { # one file; the defaults of ini.h are Debian's meson defaults
    p=$1
    mkdir -p "$p/include" "$p/lib" && cd "$SRCDIR"
    $CC $WCFLAGS -c ini.c -o "$p/lib/ini.o"
    $AR rcs "$p/lib/libinih.a" "$p/lib/ini.o" && rm "$p/lib/ini.o"
    cp ini.h "$p/include/"
    write_pc "$p/lib/pkgconfig/inih.pc" inih "$VERSION" "-I$p/include" "-L$p/lib -linih"
}

build_cjson() {
    p=$1
    mkdir -p "$p/include/cjson" "$p/lib" && cd "$SRCDIR"
    $CC $WCFLAGS -std=c89 -c cJSON.c -o "$p/lib/cJSON.o"
    $AR rcs "$p/lib/libcjson.a" "$p/lib/cJSON.o" && rm "$p/lib/cJSON.o"
    cp cJSON.h "$p/include/cjson/"
    write_pc "$p/lib/pkgconfig/libcjson.pc" libcjson "$VERSION" "-I$p/include" "-L$p/lib -lcjson"
}

build_cmocka() { # its CMake build reduced to what config.h needs on MinGW
    p=$1
    mkdir -p "$p/include" "$p/lib" && cd "$SRCDIR"
    cat >"$p/lib/config.h" <<'EOF'
#define HAVE_ASSERT_H 1
#define HAVE_INTTYPES_H 1
#define HAVE_IO_H 1
#define HAVE_MALLOC_H 1
#define HAVE_MEMORY_H 1
#define HAVE_SETJMP_H 1
#define HAVE_SIGNAL_H 1
#define HAVE_STDARG_H 1
#define HAVE_STDDEF_H 1
#define HAVE_STDINT_H 1
#define HAVE_STDIO_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRINGS_H 1
#define HAVE_STRING_H 1
#define HAVE_SYS_STAT_H 1
#define HAVE_SYS_TYPES_H 1
#define HAVE_TIME_H 1
#define HAVE_UNISTD_H 1
#define HAVE_STRUCT_TIMESPEC 1
#define HAVE_CALLOC 1
#define HAVE_EXIT 1
#define HAVE_FPRINTF 1
#define HAVE_SNPRINTF 1
#define HAVE_VSNPRINTF 1
#define HAVE_FREE 1
#define HAVE_LONGJMP 1
#define HAVE_MALLOC 1
#define HAVE_MEMCPY 1
#define HAVE_MEMSET 1
#define HAVE_PRINTF 1
#define HAVE_SETJMP 1
#define HAVE_SIGNAL 1
#define HAVE_STRCMP 1
#define HAVE_STRCPY 1
#define HAVE_GCC_THREAD_LOCAL_STORAGE 1
#define WORDS_SIZEOF_VOID_P 8
EOF
    # MinGW's C99 printf (the tests print %zu), and its format checking in
    # the header: GCC takes "printf" for msvcrt's on MinGW targets
    $CC $WCFLAGS -D__USE_MINGW_ANSI_STDIO=1 -DHAVE_CONFIG_H -I"$p/lib" -Iinclude -c src/cmocka.c \
        -o "$p/lib/cmocka.o"
    $AR rcs "$p/lib/libcmocka.a" "$p/lib/cmocka.o" && rm "$p/lib/cmocka.o" "$p/lib/config.h"
    cp include/cmocka_pbc.h "$p/include/"
    sed 's/__format__ (__printf__, a, b)/__format__ (__MINGW_PRINTF_FORMAT, a, b)/' include/cmocka.h \
        >"$p/include/cmocka.h"
    grep -q __MINGW_PRINTF_FORMAT "$p/include/cmocka.h"
    write_pc "$p/lib/pkgconfig/cmocka.pc" cmocka "$VERSION" "-I$p/include" "-L$p/lib -lcmocka"
}

build_tre() { # POSIX regex for the rule language (regcomp, REG_EXTENDED|REG_ICASE)
    p=$1
    b=$CACHE/build/tre && rm -rf "$b" && mkdir -p "$b" && cd "$b"
    # Byte-wise matching, as TRE's configure chooses on MinGW by itself
    # ("wcsrtombs and wcstombs don't seem to work at all on MinGW"): said
    # here, and checked below, rather than left to its detection.
    "$SRCDIR/configure" -q --host=$HOST --prefix="$p" --disable-shared --enable-static \
        --disable-dependency-tracking --disable-nls --disable-agrep \
        --disable-wchar --disable-multibyte --without-libutf8 \
        --without-libiconv-prefix --without-libintl-prefix \
        CFLAGS="$WCFLAGS" >/dev/null
    no_def lib/tre-config.h TRE_WCHAR TRE_MULTIBYTE TRE_USE_SYSTEM_REGEX_H HAVE_LIBUTF8_H
    need_def lib/tre-config.h TRE_APPROX
    no_def config.h ENABLE_NLS
    make -s -j"$JOBS" -C lib >/dev/null
    make -s -C lib install >/dev/null
    make -s install-pkgconfigDATA >/dev/null 2>&1 || true
    # <regex.h> must be TRE's: it maps regcomp & co. to tre_regcomp & co.
    cp "$p/include/tre/regex.h" "$p/include/regex.h" 2>/dev/null || true
    write_pc "$p/lib/pkgconfig/tre.pc" tre "$VERSION" "-I$p/include -I$p/include/tre" "-L$p/lib -ltre"
    rm -rf "$b"
}

build_openssl() { # libcrypto only: no TLS here (libcurl uses Schannel)
    p=$1
    b=$CACHE/build/openssl && rm -rf "$b" && mkdir -p "$b" && cd "$b"
    "$SRCDIR/Configure" mingw64 --cross-compile-prefix=$HOST- --prefix="$p" --libdir=lib \
        no-shared no-tests no-module no-engine no-legacy no-dso no-ssl no-tls no-dtls \
        no-srp no-psk no-comp no-ocsp no-ts no-cms no-ct no-async no-cmp no-srtp no-sctp \
        no-aria no-bf no-blake2 no-camellia no-cast no-chacha no-ec2m no-gost no-idea no-md4 \
        no-mdc2 no-ocb no-rc4 no-rmd160 no-scrypt no-seed no-siphash no-siv no-sm2 no-sm3 \
        no-sm4 no-whirlpool -O2 >/dev/null
    grep -q '"thread_scheme" => "winthreads"' configdata.pm \
        || { echo "configdata.pm: OpenSSL does not use Windows threads"; exit 1; }
    make -s -j"$JOBS" build_generated >/dev/null
    make -s -j"$JOBS" libcrypto.a >/dev/null 2>&1 || make -j"$JOBS" libcrypto.a
    mkdir -p "$p/lib" "$p/include"
    cp libcrypto.a "$p/lib/"
    cp -r "$SRCDIR/include/openssl" "$p/include/"
    cp include/openssl/*.h "$p/include/openssl/"
    write_pc "$p/lib/pkgconfig/libcrypto.pc" libcrypto "$VERSION" "-I$p/include" \
        "-L$p/lib -lcrypto -lws2_32 -lgdi32 -lcrypt32 -luser32 -ladvapi32 -lbcrypt"
    cp "$p/lib/pkgconfig/libcrypto.pc" "$p/lib/pkgconfig/openssl.pc"
    rm -rf "$b"
}

build_curl() { # HTTPS with Schannel and nothing else
    p=$1
    b=$CACHE/build/curl && rm -rf "$b" && mkdir -p "$b" && cd "$b"
    # Threads: the threaded resolver, on Windows threads (--disable-pthreads).
    # curl 7.88's configure otherwise takes POSIX threads wherever it finds a
    # pthread.h, and mingw-w64 ships winpthreads' (undefined pthread_join at
    # the link of dualsync.exe). Not --disable-threaded-resolver: the
    # synchronous resolver cannot be interrupted on Windows (no SIGALRM), so a
    # hanging DNS lookup would ignore the transfer's timeouts.
    "$SRCDIR/configure" -q --host=$HOST --prefix="$p" --disable-shared --enable-static \
        --disable-dependency-tracking --disable-maintainer-mode \
        --with-schannel --without-zlib --without-brotli --without-zstd \
        --without-libpsl --without-libidn2 --without-nghttp2 --without-libssh2 \
        --without-librtmp --without-libgsasl --without-ca-bundle --without-ca-path \
        --disable-ldap --disable-ldaps --disable-ftp --disable-file \
        --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
        --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-rtsp \
        --disable-manual --disable-ntlm --disable-unix-sockets \
        --disable-pthreads --enable-threaded-resolver \
        CFLAGS="$WCFLAGS" >/dev/null
    need_def lib/curl_config.h USE_THREADS_WIN32 USE_SCHANNEL
    no_def lib/curl_config.h USE_THREADS_POSIX HAVE_PTHREAD_H HAVE_CLOCK_GETTIME_MONOTONIC \
        USE_OPENSSL HAVE_LIBZ USE_LIBPSL USE_LIBIDN2 USE_NGHTTP2 CURL_CA_BUNDLE CURL_CA_PATH
    make -s -j"$JOBS" -C lib >/dev/null
    make -s -C lib install >/dev/null
    make -s -C include install >/dev/null
    write_pc "$p/lib/pkgconfig/libcurl.pc" libcurl "$VERSION" "-DCURL_STATICLIB -I$p/include" \
        "-L$p/lib -lcurl -lws2_32 -lcrypt32 -lsecur32 -lbcrypt -ladvapi32"
    rm -rf "$b"
}

# one PACKAGE DEVPKG NAME RECIPE-REVISION LIB: fetch, build if not cached, and
# remember the prefix for deps.mak
PCDIRS=
SUMMARY=
one() {
    pkg=$1 dev=$2 name=$3 rev=$4 lib=$5
    fetch "$pkg" "$dev"
    p=$(prefix_of "$name" "$VERSION" "$rev")
    if [ ! -f "$p/.built" ] || [ ! -s "$p/lib/lib$lib.a" ]; then
        [ $PRINT = 1 ] && { say "would build $name $VERSION into $p"; return 0; }
        rm -rf "$p"
        say "building $name $VERSION (Debian source package $pkg)"
        # not under `if` or `||`: there, set -e would be off inside the recipe
        set +e
        (set -e; timed "$name-$VERSION" "build_$name" "$p") >"$CACHE/build-$name.log" 2>&1
        rc=$?
        set -e
        [ $rc = 0 ] && [ ! -s "$p/lib/lib$lib.a" ] && { echo "no $p/lib/lib$lib.a was made" >>"$CACHE/build-$name.log"; rc=1; }
        if [ $rc != 0 ]; then
            tail -20 "$CACHE/build-$name.log" >&2
            die "$name $VERSION failed to build; the log is $CACHE/build-$name.log"
        fi
        grep 'built in' "$CACHE/build-$name.log" >&2 || true
        touch "$p/.built"
    fi
    PCDIRS="$PCDIRS${PCDIRS:+:}$p/lib/pkgconfig"
    SUMMARY="$SUMMARY $name=$VERSION"
}

mkdir -p "$CACHE/src" "$CACHE/$HOST" "$OUT"
setup_apt
one libinih libinih-dev inih $R_INIH inih
one cjson libcjson-dev cjson $R_CJSON cjson
one cmocka libcmocka-dev cmocka $R_CMOCKA cmocka
one tre libtre-dev tre $R_TRE tre
one openssl libssl-dev openssl $R_OPENSSL crypto
one curl libcurl4-openssl-dev curl $R_CURL curl

[ $PRINT = 1 ] && { echo "$SUMMARY"; exit 0; }
cat >"$OUT/deps.mak" <<EOF
# written by scripts/build-windows.sh: the Windows libraries of this build
#$SUMMARY (gcc $GCCVER)
WIN_PKG_CONFIG_LIBDIR := $PCDIRS
EOF
say "libraries ready:$SUMMARY (gcc $GCCVER); $OUT/deps.mak written"
