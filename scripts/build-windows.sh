#!/bin/sh
# build-windows.sh - the libraries of the Windows cross build, from pinned
# Debian source packages, built with Debian 12's gcc-mingw-w64 into a cache
# outside the repository (doc/windows-build.md).
#
#   scripts/build-windows.sh            build what is missing, write build-win/deps.mak
#   scripts/build-windows.sh --print    show what would be used, build and fetch nothing
#
# Libraries: inih, cJSON, cmocka (the unit tests), TRE (POSIX regcomp/regexec:
# the MinGW C library has none), OpenSSL's libcrypto (JWT signatures, base64),
# libcurl with Schannel (Windows' own TLS, certificates from the Windows store),
# libxml2 (check --connect-config: Entra Connect's exported configuration).
# LDAP is Windows' wldap32, which mingw-w64 ships.
#
# Each library is built from exactly the source named in PINS below: a version
# and the SHA-256 of its .dsc, which lists the checksums of its tarballs (that
# dpkg-source checks when it unpacks). Sources are fetched once with `apt-get
# source` through a private apt configuration ($CACHE/apt; /etc/apt is not
# touched) from the Debian mirror apt is configured with, nothing else, and
# kept in $CACHE/src/<.dsc SHA-256>. A pinned version the mirror no longer
# serves stops the build with the version it offers instead: it never moves
# on by itself.
#
# A library is built into $CACHE/x86_64-w64-mingw32/<name>-<version>-<key>,
# where the key hashes everything that shapes it (recipe_key): the pin, the
# recipe below, the compiler and the packages it comes from. Anything else is
# reused (CI keeps $CACHE between runs). Builds run in a clean environment,
# without the caller's CC, CFLAGS, MAKEFLAGS or PATH, and write nothing of the
# cache's path into a library, so that the same dualsync.exe comes out of a
# cold cache, a warm one or another $CACHE. Timings go to $CACHE/timings.log.
#
# Environment: DUALSYNC_MINGW_CACHE (default /var/cache/dualsync-mingw),
# JOBS (parallel make, default nproc).
set -eu

# ---- the pins ---------------------------------------------------------------
# name, Debian source package, version, suite, SHA-256 of the .dsc.
# The suite is the Debian release whose deb-src lines are asked (its -updates
# and -security suites too, where apt's configuration has them). The versions
# are bookworm's, the same as the -dev packages the Linux build links, where
# the mirror holds the source whole:
# - inih: bookworm's 55-1 is listed, but the mirror has no
#   libinih_55-1.debian.tar.xz (404), so it cannot be unpacked; trixie's 59-1,
#   pinned here, is the nearest the mirror serves whole. Its ini.h (with
#   Debian's patches) differs from libinih-dev 55-1's only in a comment.
# - openssl: libssl-dev 3.0.22-1~deb12u2 is bookworm-security's, but the
#   mirror lacks its openssl_3.0.22-1~deb12u2.debian.tar.xz (404); 3.0.20-1~deb12u2
#   (bookworm) is the newest it serves whole.
# - curl: 7.88.1-10+deb12u15 is bookworm's libcurl4-openssl-dev.
# - libxml2: 2.9.14+dfsg-1.3~deb12u6 is bookworm's libxml2-dev.
# To move a pin: scripts/build-windows.sh names the version and .dsc hash the
# mirror offers when a pinned one is gone; doc/windows-build.md has the steps.
PINS='
inih     libinih   59-1                 trixie    ec3334b0ad6a817e84b0bfa7599097536f8433c7fc36f82561dc9c4930fe9779
cjson    cjson     1.7.15-1+deb12u4     bookworm  764c2de141d680f4fb4cada30c526dacaa30ead061b9b9c34f2b81e2df0f8439
cmocka   cmocka    1.1.5-2.1            bookworm  9f94190b571e059dd6a359c7effd40b982c6c2796959ea201cf41e7cac0b6730
tre      tre       0.8.0-7              bookworm  98b9497da2373e30110fde5ef4184c1ef6714291e3bdf8f4627d833630ba364f
libxml2  libxml2   2.9.14+dfsg-1.3~deb12u6 bookworm d86ce3efb1b75d2781f72f5cdd187474c148a915d610295c85162681bb070a65
openssl  openssl   3.0.20-1~deb12u2     bookworm  a614474a2773c23b10c0d65f4eccbcf93fdac4749afb7c26d76e1b0340154d3d
curl     curl      7.88.1-10+deb12u15   bookworm  2744f12e3aef161c0361743fa1b318296b122e566e47f381e4a63320fbcc23f4
'

HOST=x86_64-w64-mingw32
CACHE=${DUALSYNC_MINGW_CACHE:-/var/cache/dualsync-mingw}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
HERE=$(cd "$(dirname "$0")/.." && pwd)
OUT=$HERE/build-win

say() { printf 'build-windows: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# >>> shared recipe: everything between these marks is part of every
# library's cache key (recipe_key), as is that library's build_<name>.

# The win32 thread model, named: the bare x86_64-w64-mingw32-gcc is whichever
# of -posix and -win32 update-alternatives points at. No library links
# winpthreads (check_lib), so nothing POSIX-threaded can slip in.
CC=$HOST-gcc-win32
AR=$HOST-ar
# ar D: no timestamps or owners in archives (Debian's binutils default,
# stated so that it does not depend on that)
ARFLAGS_D=rcsD

# The environment of a build: nothing from the caller's (CC, CFLAGS, CPATH,
# MAKEFLAGS and the jobserver of an outer make, PATH, locale, time zone). No
# pkg-config file of the build machine is visible: configure scripts find
# nothing by themselves.
build_env() {
    env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/nonexistent LC_ALL=C TZ=UTC0 \
        PKG_CONFIG_LIBDIR=/nonexistent PKG_CONFIG_PATH= JOBS="$JOBS" "$@"
}

# build_child NAME PREFIX DSC VERSION, the script run again under build_env:
# unpack the source (dpkg-source checks the tarballs against the .dsc and
# applies Debian's patches) into $CACHE/build/NAME and build it into PREFIX.
build_child() {
    NAME=$1 VERSION=$4
    B=$CACHE/build/$NAME
    rm -rf "$B" && mkdir -p "$B"
    dpkg-source -q -x "$3" "$B/src" >"$B/dpkg-source.log" 2>&1 || { cat "$B/dpkg-source.log"; exit 1; }
    # "now" where a build records a date (OpenSSL's buildinf.h): the date
    # of the source package
    SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l "$B/src/debian/changelog" -STimestamp)
    export SOURCE_DATE_EPOCH
    # the debug information names /build/NAME, whatever $CACHE is
    WCFLAGS="-O2 -g -ffile-prefix-map=$B=/build/$NAME"
    umask 022
    cd "$B/src"
    "build_$NAME" "$2"
    cd / && rm -rf "$B"
}

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

write_pc() { # file name version cflags libs
    mkdir -p "$(dirname "$1")"
    printf 'Name: %s\nDescription: %s (dualsync Windows build)\nVersion: %s\nCflags: %s\nLibs: %s\n' \
        "$2" "$2" "$3" "$4" "$5" >"$1"
}
# <<< shared recipe

# ---- the recipes ------------------------------------------------------------
# Each runs in the unpacked source ($B/src) with the prefix as $1.

build_inih() { # one file; the defaults of ini.h are Debian's meson defaults
    p=$1
    mkdir -p "$p/include" "$p/lib"
    # shellcheck disable=SC2086 # WCFLAGS: words
    $CC $WCFLAGS -c ini.c -o "$B/ini.o"
    $AR $ARFLAGS_D "$p/lib/libinih.a" "$B/ini.o"
    cp ini.h "$p/include/"
    write_pc "$p/lib/pkgconfig/inih.pc" inih "$VERSION" "-I$p/include" "-L$p/lib -linih"
}

build_cjson() {
    p=$1
    mkdir -p "$p/include/cjson" "$p/lib"
    # shellcheck disable=SC2086
    $CC $WCFLAGS -std=c89 -c cJSON.c -o "$B/cJSON.o"
    $AR $ARFLAGS_D "$p/lib/libcjson.a" "$B/cJSON.o"
    cp cJSON.h "$p/include/cjson/"
    write_pc "$p/lib/pkgconfig/libcjson.pc" libcjson "$VERSION" "-I$p/include" "-L$p/lib -lcjson"
}

build_cmocka() { # its CMake build reduced to what config.h needs on MinGW
    p=$1
    mkdir -p "$p/include" "$p/lib"
    cat >"$B/config.h" <<'EOF'
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
    # shellcheck disable=SC2086
    $CC $WCFLAGS -D__USE_MINGW_ANSI_STDIO=1 -DHAVE_CONFIG_H -I"$B" -Iinclude -c src/cmocka.c \
        -o "$B/cmocka.o"
    $AR $ARFLAGS_D "$p/lib/libcmocka.a" "$B/cmocka.o"
    cp include/cmocka_pbc.h "$p/include/"
    sed 's/__format__ (__printf__, a, b)/__format__ (__MINGW_PRINTF_FORMAT, a, b)/' include/cmocka.h \
        >"$p/include/cmocka.h"
    grep -q __MINGW_PRINTF_FORMAT "$p/include/cmocka.h"
    write_pc "$p/lib/pkgconfig/cmocka.pc" cmocka "$VERSION" "-I$p/include" "-L$p/lib -lcmocka"
}

build_tre() { # POSIX regex for the rule language (regcomp, REG_EXTENDED|REG_ICASE)
    p=$1
    # Byte-wise matching, as TRE's configure chooses on MinGW by itself
    # ("wcsrtombs and wcstombs don't seem to work at all on MinGW"): said
    # here, and checked below, rather than left to its detection.
    ./configure -q --host=$HOST --prefix="$p" --disable-shared --enable-static \
        --disable-dependency-tracking --disable-nls --disable-agrep \
        --disable-wchar --disable-multibyte --without-libutf8 \
        --without-libiconv-prefix --without-libintl-prefix \
        CC="$CC" AR="$AR" AR_FLAGS=crD CFLAGS="$WCFLAGS" >/dev/null
    no_def lib/tre-config.h TRE_WCHAR TRE_MULTIBYTE TRE_USE_SYSTEM_REGEX_H HAVE_LIBUTF8_H
    need_def lib/tre-config.h TRE_APPROX
    no_def config.h ENABLE_NLS
    make -s -j"$JOBS" -C lib >/dev/null
    make -s -C lib install >/dev/null
    # <regex.h> must be TRE's: it maps regcomp & co. to tre_regcomp & co.
    cp "$p/include/tre/regex.h" "$p/include/regex.h"
    rm -f "$p/lib/libtre.la"
    write_pc "$p/lib/pkgconfig/tre.pc" tre "$VERSION" "-I$p/include -I$p/include/tre" "-L$p/lib -ltre"
}

build_libxml2() { # the reader of Connect's exported configuration (connect_export.c)
    p=$1
    # What connect_export.c calls: the parser and the tree (xmlCtxtReadFile,
    # xmlNodeGetContent, xmlGetProp, xmlGetLineNo), nothing else: no HTML,
    # XPath, schemas, catalogs, network (http, ftp), compression (zlib,
    # lzma), python or loadable modules, and one thread (dualsync reads the
    # export on its main thread; libxml2's Windows threads, in a static
    # library, start a helper thread for every other thread that uses it).
    # No iconv (MinGW has none): libxml2 then reads UTF-8, UTF-16 (by its
    # byte order mark) and ISO-8859-1 itself, and refuses another declared
    # encoding by name ("Unsupported encoding", with file and line). That is
    # all a Connect export needs: Get-ADSyncServerConfiguration writes its
    # files without an XML declaration or a byte order mark, which XML 1.0
    # (4.3.3) reads as UTF-8 (the public exports of
    # microsoft/AADConnectConfigDocumenter, src/SolutionOutput/Data/Contoso,
    # are all ASCII), and Microsoft's documenter reads them with
    # XElement.Load, which knows no other encoding without a declaration.
    # --disable-maintainer-mode: Debian's patches change Makefile.am only for
    # the HTML manual and a catalog test program (checked here), so
    # upstream's Makefile.in builds the same library without automake.
    am=$(grep -l -r -E '^\+\+\+ [^ ]*(Makefile\.am|configure\.ac|\.m4)' debian/patches | sort | tr '\n' ' ')
    [ "$am" = "debian/patches/0034-testcatalog-Add-new-tests-for-catalog.c.patch debian/patches/install-html.patch " ] \
        || { echo "Debian's patches change the build system in: $am; does libxml2.a need automake now?"; exit 1; }
    ./configure -q --host=$HOST --prefix="$p" --disable-shared --enable-static \
        --disable-dependency-tracking --disable-maintainer-mode --with-minimum --with-tree \
        --without-python --without-lzma --without-zlib --without-http --without-ftp \
        --without-modules --without-threads --without-iconv --without-icu --without-iso8859x \
        CC="$CC" AR="$AR" AR_FLAGS=crD CFLAGS="$WCFLAGS" >/dev/null
    # what configure left on, as a program sees it: the tree and nothing else
    on=$(echo '#include <libxml/xmlversion.h>' | $CC -Iinclude -dM -E -xc - \
         | awk '$2 ~ /^LIBXML_.*_ENABLED$/ { print $2 }' | sort | tr '\n' ' ')
    [ "$on" = "LIBXML_TREE_ENABLED " ] \
        || { echo "include/libxml/xmlversion.h enables $on; the configure options no longer decide it"; exit 1; }
    no_def config.h HAVE_PTHREAD_H HAVE_ZLIB_H HAVE_LZMA_H HAVE_DLOPEN
    make -s -j"$JOBS" libxml2.la >/dev/null
    make -s install-libLTLIBRARIES >/dev/null
    make -s -C include install >/dev/null
    rm -f "$p/lib/libxml2.la"
    write_pc "$p/lib/pkgconfig/libxml-2.0.pc" libxml-2.0 "$VERSION" "-DLIBXML_STATIC -I$p/include/libxml2" \
        "-L$p/lib -lxml2"
}

build_openssl() { # libcrypto only: no TLS here (libcurl uses Schannel)
    p=$1
    # Built in its source tree: the file names OpenSSL records (__FILE__ in
    # its errors) are then relative, and its build information
    # (crypto/buildinf.h: the compiler flags) names no directory of ours;
    # no -g, so no debug information either.
    # OPENSSLDIR is where the library looks on Windows (for openssl.cnf):
    # upstream's Windows default, C:/Program Files/Common Files/SSL, an
    # admin-only folder, never a path of the build machine (the default,
    # /usr/local/ssl, would be \usr\local\ssl on the current drive, which any
    # user may create: CVE-2019-1552). Configure runs on Linux, where
    # "C:/..." is a relative path: it would append an absolute --openssldir
    # to the prefix, so the prefix is the parent and --openssldir relative.
    # (ENGINESDIR and MODULESDIR below the prefix are unused: no-engine,
    # no-module, no-dso.)
    ./Configure mingw64 --cross-compile-prefix=$HOST- CC=gcc-win32 ARFLAGS=rD \
        --prefix="C:/Program Files/Common Files" --openssldir=SSL \
        --libdir=lib threads \
        no-shared no-tests no-module no-engine no-legacy no-dso no-ssl no-tls no-dtls \
        no-srp no-psk no-comp no-ocsp no-ts no-cms no-ct no-async no-cmp no-srtp no-sctp \
        no-aria no-bf no-blake2 no-camellia no-cast no-chacha no-ec2m no-gost no-idea no-md4 \
        no-mdc2 no-ocb no-rc4 no-rmd160 no-scrypt no-seed no-siphash no-siv no-sm2 no-sm3 \
        no-sm4 no-whirlpool no-zlib -O2 >/dev/null
    grep -q '"thread_scheme" => "winthreads"' configdata.pm \
        || { echo "configdata.pm: OpenSSL does not use Windows threads"; exit 1; }
    grep -qx 'OPENSSLDIR=C:/Program Files/Common Files/SSL' Makefile \
        || { echo "Makefile: OPENSSLDIR is not C:/Program Files/Common Files/SSL"; exit 1; }
    make -s -j"$JOBS" build_generated >/dev/null
    make -s -j"$JOBS" libcrypto.a >/dev/null 2>&1 || make -j"$JOBS" libcrypto.a
    mkdir -p "$p/lib" "$p/include"
    cp libcrypto.a "$p/lib/"
    cp -r include/openssl "$p/include/"
    write_pc "$p/lib/pkgconfig/libcrypto.pc" libcrypto "$VERSION" "-I$p/include" \
        "-L$p/lib -lcrypto -lws2_32 -lgdi32 -lcrypt32 -luser32 -ladvapi32 -lbcrypt"
    cp "$p/lib/pkgconfig/libcrypto.pc" "$p/lib/pkgconfig/openssl.pc"
}

build_curl() { # HTTPS with Schannel and nothing else
    p=$1
    # Threads: the threaded resolver, on Windows threads (--disable-pthreads).
    # curl 7.88's configure otherwise takes POSIX threads wherever it finds a
    # pthread.h, and mingw-w64 ships winpthreads' (undefined pthread_join at
    # the link of dualsync.exe). Not --disable-threaded-resolver: the
    # synchronous resolver cannot be interrupted on Windows (no SIGALRM), so a
    # hanging DNS lookup would ignore the transfer's timeouts.
    ./configure -q --host=$HOST --prefix="$p" --disable-shared --enable-static \
        --disable-dependency-tracking --disable-maintainer-mode \
        --with-schannel --without-zlib --without-brotli --without-zstd \
        --without-libpsl --without-libidn2 --without-nghttp2 --without-libssh2 \
        --without-librtmp --without-libgsasl --without-ca-bundle --without-ca-path \
        --disable-ldap --disable-ldaps --disable-ftp --disable-file \
        --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap \
        --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-rtsp \
        --disable-manual --disable-ntlm --disable-unix-sockets \
        --disable-pthreads --enable-threaded-resolver \
        CC="$CC" AR="$AR" AR_FLAGS=crD CFLAGS="$WCFLAGS" >/dev/null
    need_def lib/curl_config.h USE_THREADS_WIN32 USE_SCHANNEL
    no_def lib/curl_config.h USE_THREADS_POSIX HAVE_PTHREAD_H HAVE_CLOCK_GETTIME_MONOTONIC \
        USE_OPENSSL HAVE_LIBZ USE_LIBPSL USE_LIBIDN2 USE_NGHTTP2 CURL_CA_BUNDLE CURL_CA_PATH
    make -s -j"$JOBS" -C lib >/dev/null
    make -s -C lib install >/dev/null
    make -s -C include install >/dev/null
    rm -f "$p/lib/libcurl.la"
    write_pc "$p/lib/pkgconfig/libcurl.pc" libcurl "$VERSION" "-DCURL_STATICLIB -I$p/include" \
        "-L$p/lib -lcurl -lws2_32 -lcrypt32 -lsecur32 -lbcrypt -ladvapi32"
}

if [ "${1:-}" = --build-one ]; then
    shift
    build_child "$@"
    exit 0
fi

# ---- the tools, from Debian's packages --------------------------------------
PRINT=0
[ "${1:-}" = "--print" ] && PRINT=1

TOOL_PKGS="gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-base binutils-mingw-w64-x86-64
mingw-w64-x86-64-dev mingw-w64-common dpkg-dev make perl"
need_pkgs=
for pkg in $TOOL_PKGS wine wine64 pkg-config xz-utils; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
        || need_pkgs="$need_pkgs $pkg"
done
if [ -n "$need_pkgs" ]; then
    [ $PRINT = 1 ] && die "missing:$need_pkgs"
    say "installing$need_pkgs"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need_pkgs >/dev/null
fi

# What the compiler is: its own account and the Debian packages of it, its
# runtime and binutils, and of the tools that generate code (perl for
# OpenSSL, make, dpkg-source).
TOOLCHAIN=$({ PATH=/usr/bin:/bin $CC -v 2>&1
              # shellcheck disable=SC2086
              dpkg-query -W -f '${Package} ${Version}\n' $TOOL_PKGS; } | sort)

# ---- the pins and the cache keys --------------------------------------------
pin() { # NAME FIELD (1 package, 2 version, 3 suite, 4 .dsc SHA-256)
    echo "$PINS" | awk -v n="$1" -v f="$2" '$1 == n { print $(f + 1) }'
}

# The cache key of library NAME: its pin, the shared recipe, its build
# function (their text in this file) and the toolchain.
recipe_key() {
    {
        echo "$PINS" | awk -v n="$1" '$1 == n'
        sed -n '/^# >>> shared recipe/,/^# <<< shared recipe/p' "$SELF"
        awk -v f="build_$1() {" 'index($0, f) == 1 { on = 1 } on { print } on && /^}/ { exit }' "$SELF"
        echo "$TOOLCHAIN"
    } | sha256sum | cut -c1-16
}

# ---- the sources --------------------------------------------------------------
# The private apt configuration of one suite: the deb-src lines of the Debian
# repositories apt is configured with for SUITE, SUITE-updates and
# SUITE-security, or, for a suite apt does not use, the main Debian
# repository's SUITE.
APTDIR=$CACHE/apt
apto() {
    echo "-o Dir::Etc::SourceList=$APTDIR/$1/sources.list -o Dir::Etc::SourceParts=$APTDIR/$1/parts.d" \
         "-o Dir::State::Lists=$APTDIR/$1/lists -o Dir::Cache=$APTDIR/$1/cache -o APT::Sandbox::User=root"
}

APT_READY=
setup_apt() { # SUITE: write its configuration, apt-get update once a run
    case " $APT_READY " in *" $1 "*) return 0 ;; esac
    # "500 URI suite/component arch Packages" followed by "release ...o=Debian..."
    repos=$(apt-cache policy | awk '
        /^ *[0-9]+ (http|https|file):/ { uri = $2; split($3, sc, "/"); next }
        /release .*o=Debian/ && uri != "" { print uri, sc[1], sc[2]; uri = "" }' | sort -u)
    [ -n "$repos" ] || die "no Debian repository in apt's configuration; add one (deb.debian.org) and run apt-get update"
    key=/usr/share/keyrings/debian-archive-keyring.gpg
    lines=$(echo "$repos" | awk -v s="$1" -v k="$key" '
        $2 == s || $2 == s "-updates" || $2 == s "-security" { print "deb-src [signed-by=" k "] " $1, $2, $3 }')
    if [ -z "$lines" ]; then
        main_uri=$(echo "$repos" | awk '$2 !~ /security/ { print $1; exit }')
        lines="deb-src [signed-by=$key] $main_uri $1 main"
    fi
    d=$APTDIR/$1
    mkdir -p "$d/parts.d" "$d/lists/partial" "$d/cache/archives/partial"
    echo "$lines" >"$d/sources.list"
    say "apt-get update ($(echo "$lines" | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $3, $4 }'))"
    # shellcheck disable=SC2046
    apt-get $(apto "$1") update -q >"$d/update.log" 2>&1 || { cat "$d/update.log" >&2; die "apt-get update of the $1 sources failed"; }
    APT_READY="$APT_READY $1"
}

# What the mirror offers of PACKAGE in SUITE: "version dsc-sha256" lines,
# newest first.
offered() {
    # shellcheck disable=SC2046
    apt-cache $(apto "$2") showsrc "$1" 2>/dev/null | awk -v pkg="$1" '
        /^Package:/ { p = $2 } /^Version:/ { v = $2 }
        /^Checksums-Sha256:/ { c = 1; next }
        c && /^ / { if (p == pkg && $3 ~ /\.dsc$/) print v, $1; next }
        { c = 0 }' | sort -u | sort -rV
}

try_download() { # DIR PACKAGE VERSION SUITE: apt-get source --download-only into DIR
    rm -rf "$1" && mkdir -p "$1"
    # shellcheck disable=SC2046
    (cd "$1" && apt-get $(apto "$4") source -q --download-only "$2=$3" </dev/null >download.log 2>&1)
}

# The pinned source of NAME: its .dsc in $CACHE/src/<sha256>/, fetched if
# missing, its hash checked either way. Sets DSC to its path.
source_dsc() {
    name=$1
    pkg=$(pin "$name" 1) ver=$(pin "$name" 2) suite=$(pin "$name" 3) sha=$(pin "$name" 4)
    dir=$CACHE/src/$sha
    dsc=$dir/${pkg}_${ver#*:}.dsc
    if [ -f "$dir/.complete" ]; then
        [ "$(sha256sum <"$dsc" | cut -c1-64)" = "$sha" ] && { DSC=$dsc; return 0; }
        say "$dsc does not match its pin any more; fetching it again"
    fi
    setup_apt "$suite"
    new=$CACHE/src/.new-$sha
    if ! try_download "$new" "$pkg" "$ver" "$suite"; then
        say "$pkg $ver is pinned for $name, but the mirror's $suite sources cannot serve it:"
        grep -E '^(E|W):' "$new/download.log" | sed 's/^/    /' >&2 || true
        rm -rf "$new"
        stale_pin "$name" "$pkg" "$ver" "$suite"
    fi
    got=$(sha256sum <"$new/${pkg}_${ver#*:}.dsc" | cut -c1-64)
    if [ "$got" != "$sha" ]; then
        rm -rf "$new"
        die "the mirror's ${pkg}_$ver.dsc has SHA-256 $got, the pin in $SELF says $sha: a published version changed, or the pin is wrong. Nothing was built from it."
    fi
    rm -f "$new/download.log"
    touch "$new/.complete"
    rm -rf "$dir" && mv "$new" "$dir"
    DSC=$dsc
}

# A pinned version the mirror does not serve: say what it offers instead, and
# what to change, then stop.
stale_pin() {
    name=$1 pkg=$2 ver=$3 suite=$4
    offers=$(offered "$pkg" "$suite")
    [ -n "$offers" ] || die "the mirror's $suite sources list no $pkg at all; pin it from another suite (doc/windows-build.md)"
    say "the mirror's $suite sources list:"
    whole=
    t=$CACHE/src/.probe-$pkg
    while read -r v h; do
        if [ -z "$whole" ] && try_download "$t" "$pkg" "$v" "$suite"; then
            whole="$v $h"
            say "    $pkg $v, .dsc SHA-256 $h (all its files are there)"
        else
            say "    $pkg $v, .dsc SHA-256 $h"
        fi
    done <<EOF
$offers
EOF
    rm -rf "$t"
    if [ -n "$whole" ]; then
        say "to move to it, change the $name line of PINS at the top of $SELF to:"
        say "    $(printf '%-8s %-9s %-20s %-9s %s' "$name" "$pkg" "${whole%% *}" "$suite" "${whole#* }")"
        say "and say in the comment above PINS why (doc/windows-build.md)."
    else
        say "none of them can be fetched whole; pin $pkg from another suite (doc/windows-build.md)"
    fi
    die "$name: pinned source $pkg $ver not available; not building anything else instead"
}

# ---- the builds ----------------------------------------------------------------
timed() { # NAME VERSION command...: run it, log its time
    name=$1 ver=$2
    shift 2
    t0=$(date +%s)
    "$@"
    t1=$(date +%s)
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $name $ver $((t1 - t0))s jobs=$JOBS" >>"$CACHE/timings.log"
    echo "$name $ver built in $((t1 - t0)) s"
}

# What a library must not hold: the path of the cache (it would differ with
# another DUALSYNC_MINGW_CACHE, and so would dualsync.exe), or a call into
# winpthreads (not linked: dualsync has no POSIX threads on Windows).
check_lib() {
    a=$1
    if grep -q -a -F -e "$CACHE" "$a"; then
        echo "$a names the path of the cache ($CACHE); a build from another cache would differ"
        return 1
    fi
    u=$($HOST-nm -u "$a" | awk '$1 == "U" && $2 ~ /^(pthread_|clock_gettime|clock_getres|nanosleep$)/ { print $2 }' | sort -u)
    [ -z "$u" ] || { echo "$a calls into winpthreads: $(echo "$u" | tr "\n" " ")"; return 1; }
}

PCDIRS=
PREFIX_MAPS=
SUMMARY=
one() { # NAME LIB: the library NAME, libLIB.a, built unless cached
    name=$1 lib=$2
    ver=$(pin "$name" 2)
    p=$CACHE/$HOST/$name-$ver-$(recipe_key "$name")
    if [ ! -f "$p/.built" ]; then
        if [ $PRINT = 1 ]; then
            state="not cached, source to fetch"
            [ -f "$CACHE/src/$(pin "$name" 4)/.complete" ] && state="not cached, source cached"
            say "$name $ver: would build into $p ($state)"
            return 0
        fi
        source_dsc "$name"
        rm -rf "$p"
        say "building $name $ver (Debian source package $(pin "$name" 1))"
        log=$CACHE/build-$name.log
        # not under `if` or `||`: there, set -e would be off inside the recipe
        set +e
        (set -e
         timed "$name" "$ver" build_env DUALSYNC_MINGW_CACHE="$CACHE" sh "$SELF" --build-one "$name" "$p" "$DSC" "$ver"
         check_lib "$p/lib/lib$lib.a") >"$log" 2>&1
        rc=$?
        set -e
        if [ $rc != 0 ]; then
            tail -20 "$log" >&2
            die "$name $ver failed to build; the log is $log"
        fi
        grep 'built in' "$log" >&2 || true
        touch "$p/.built"
    elif [ $PRINT = 1 ]; then
        say "$name $ver: $p"
    fi
    PCDIRS="$PCDIRS${PCDIRS:+:}$p/lib/pkgconfig"
    PREFIX_MAPS="$PREFIX_MAPS${PREFIX_MAPS:+ }-ffile-prefix-map=$p=/dualsync-mingw/$name-$ver"
    SUMMARY="$SUMMARY $name=$ver"
}

mkdir -p "$CACHE/src" "$CACHE/$HOST" "$OUT"
# one build at a time in a cache (two runs would share $CACHE/build)
exec 9>"$CACHE/.lock"
flock 9
one inih inih
one cjson cjson
one cmocka cmocka
one tre tre
one libxml2 xml2
one openssl crypto
one curl curl

[ $PRINT = 1 ] && { echo "$SUMMARY"; exit 0; }
# rewritten only when it changes: build-win's objects depend on it
cat >"$OUT/deps.mak.new" <<EOF
# written by scripts/build-windows.sh: the Windows libraries of this build
#$SUMMARY
WIN_CC := $CC
WIN_PKG_CONFIG_LIBDIR := $PCDIRS
# for the debug information of dualsync.exe: the libraries' headers by
# name and version, not by cache and key (the same libraries come out of
# another cache, and out of another key when only perl or dpkg-dev changed)
WIN_PREFIX_MAP := $PREFIX_MAPS
EOF
if cmp -s "$OUT/deps.mak.new" "$OUT/deps.mak"; then
    rm "$OUT/deps.mak.new"
else
    mv "$OUT/deps.mak.new" "$OUT/deps.mak"
fi
say "libraries ready:$SUMMARY ($(PATH=/usr/bin:/bin $CC -dumpversion)); $OUT/deps.mak"
