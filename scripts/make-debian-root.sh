#!/usr/bin/env bash
# Makes .tools/SUITE: a Debian root of SUITE with PACKAGE... installed, for the tests that chroot
# into it (scripts/make-trixie-root.sh, scripts/make-bookworm-root.sh say which and why):
#
#   scripts/make-debian-root.sh SUITE 'CHECK' PACKAGE...
#
# debootstrap --variant=minbase from the machine's own Debian archive (its debian-archive-keyring
# has bookworm's and trixie's keys; downloads cached in .tools/container-base/debs, which
# scripts/make-base-image.sh shares), then `apt-get install PACKAGE...` in a chroot with a
# policy-rc.d so that nothing starts. CHECK, a shell command run in the new root with chroot,
# must succeed before the root is used, and whenever it is found already made. Every mount (proc) lives in a mount namespace of its own
# and goes away with it. Built in .tools/SUITE.new and moved into place when complete: does
# nothing when .tools/SUITE is complete and passes CHECK. Needs root and debootstrap. Prints nothing unless
# it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

suite=$1
check=$2
shift 2
root=.tools/$suite
ready() { [ -e "$root/.complete" ] && chroot "$root" sh -c "$check" >/dev/null 2>&1; }
ready && exit 0

# The same archive as the machine's own bookworm entry (as in scripts/install-test-deps.sh).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cache=.tools/container-base/debs

mkdir -p .tools "$cache"
exec 9>"$root.lock"
flock 9
ready && exit 0

new=$root.new
log=$(mktemp "/var/tmp/sshd-exporter-$suite.XXXXXX")
trap 'rm -f "$log"' EXIT
fail() {
  tail -n 30 "$log" >&2
  echo "make-debian-root $suite: $1 failed (mirror $mirror)" >&2
  exit 1
}
rm -rf "$new"
unshare --mount --propagation private \
  debootstrap --variant=minbase --keyring="$keyring" --cache-dir="$PWD/$cache" \
  "$suite" "$new" "$mirror" >"$log" 2>&1 || fail debootstrap

printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
chmod 755 "$new/usr/sbin/policy-rc.d"
unshare --mount --propagation private sh -c '
  root=$1
  shift
  mount -t proc proc "$root/proc"
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"' \
  sh "$new" "$@" >>"$log" 2>&1 || fail "apt-get install $*"
rm -f "$new/usr/sbin/policy-rc.d"
rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/cache/apt/*.bin "$new"/var/lib/apt/lists/*_Packages

chroot "$new" sh -c "$check" >>"$log" 2>&1 || fail "$check in the root"
touch "$new/.complete"
rm -rf "$root"
mv "$new" "$root"
