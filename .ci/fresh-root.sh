#!/bin/bash
# Run README commands in a fresh clone inside a fresh minimal Debian 12 root,
# made by debootstrap for this run and removed after it: nothing installed,
# built or cached on the host is visible there, so a missing install step in
# the project's own scripts fails here, at every landing, and not on a
# newcomer's machine months later.
#
#   .ci/fresh-root.sh [TARGET...]        default: demo check (`make demo`, then `make check`)
#
# The root gets what a newcomer's Debian 12 has: the minimal base system plus
# make, git and ca-certificates, and this host's apt sources and apt settings
# (the mirror is the site's). One cache is shared with it:
# /var/cache/dualsync-mingw, the MinGW libraries of the Windows build, whose
# cache key covers every input (scripts/build-windows.sh).
#
# Needs root. Environment: DUALSYNC_CI_SUITE (default bookworm),
# DUALSYNC_CI_MINGW_CACHE (the host directory shared as that cache),
# DUALSYNC_CI_KEEP=1 (keep the root for a look: chroot DIR/root bash).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "fresh-root: must run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(demo check)
suite=${DUALSYNC_CI_SUITE:-bookworm}
mingw_cache=${DUALSYNC_CI_MINGW_CACHE:-/var/cache/dualsync-mingw}

say() { printf 'fresh-root: %s\n' "$*" >&2; }

# the mirror apt on this host uses (deb822 or one-line format)
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$mirror" ] || mirror=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { say "no Debian mirror in this host's apt sources"; exit 2; }

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; } >/dev/null \
        || { say "could not install debootstrap"; exit 2; }
fi

dir=$(mktemp -d /var/tmp/dualsync-ci.XXXXXX)
root=$dir/root

# release: end every process whose root is inside ours (by PID), then unmount;
# never delete through a mount that is still there
release() {
    local p pids="" m
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && pids="$pids ${p#/proc/}"
    done
    if [ -n "$pids" ]; then
        say "left running inside the root:$pids (ending them)"
        # shellcheck disable=SC2086
        kill $pids 2>/dev/null; sleep 3
        # shellcheck disable=SC2086
        kill -9 $pids 2>/dev/null
    fi
    for m in var/cache/dualsync-mingw dev/shm dev/pts dev sys proc; do
        mountpoint -q "$root/$m" 2>/dev/null && { umount -R "$root/$m" 2>/dev/null || umount -R -l "$root/$m"; }
    done
}
cleanup() {
    release
    if grep -q " $root" /proc/mounts; then
        say "still mounted under $root; not deleting it"
    elif [ "${DUALSYNC_CI_KEEP:-0}" = 1 ]; then
        say "kept: $root"
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

SECONDS=0
say "debootstrap --variant=minbase $suite from $mirror"
if ! debootstrap --variant=minbase --include=make,git,ca-certificates "$suite" "$root" "$mirror" \
        >"$dir/debootstrap.log" 2>&1; then
    tail -n 20 "$dir/debootstrap.log" >&2
    say "debootstrap failed"
    exit 2
fi
chmod 755 "$root"   # mktemp made it 0700: users inside (man, _apt) must reach /
# the site's apt sources and settings (e.g. a mirror whose Release is older
# than its Valid-Until), as a machine on this network would have them
if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" && rm -f "$root/etc/apt/sources.list"
fi
for f in /etc/apt/apt.conf.d/99*; do [ -f "$f" ] && cp "$f" "$root/etc/apt/apt.conf.d/"; done
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null
say "root ready in ${SECONDS}s"

git clone -q "$top" "$root/work/project" || { say "git clone failed"; exit 2; }
mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys" \
    && mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" || { say "mounts failed"; exit 2; }
mount -t tmpfs -o size=2g,mode=1777 tmpfs "$root/dev/shm"
# the host's cache directory, wherever it is, at the path the build uses inside
mkdir -p "$mingw_cache" "$root/var/cache/dualsync-mingw"
mount --bind "$mingw_cache" "$root/var/cache/dualsync-mingw"

rc=0
for t in "${targets[@]}"; do
    say "make $t in $root/work/project"
    SECONDS=0
    # in the background and waited for, so that a TERM to this script ends it at once
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 CI="${CI:-}" /bin/bash -c 'cd /work/project && make '"$t" 2>&1 &
    if wait $!; then
        say "make $t: ok in ${SECONDS}s"
    else
        rc=1
        say "make $t: FAILED in ${SECONDS}s"
        break
    fi
done
exit $rc
