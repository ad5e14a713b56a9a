#!/usr/bin/env bash
# Makes .tools/bookworm: a Debian 12 (bookworm) root with systemd in it, for
# test/real/packages.test.ts: the test installs the .deb that packaging/build.sh makes into a
# copy of this root (an overlay; the root itself stays clean), runs `systemd-analyze verify` on
# the packaged unit there and the packaged binary.
#
# debootstrap --variant=minbase (as scripts/make-base-image.sh, with its download cache in
# .tools/container-base/debs), then `apt-get install systemd procps` in a chroot with a
# policy-rc.d so that nothing starts: minbase has neither systemd nor /bin/kill (procps, which the
# package depends on for the unit's ExecReload). Every mount (proc) lives in a mount namespace of its
# own and goes away with it. Built in .tools/bookworm.new and moved into place when complete:
# does nothing when .tools/bookworm is there. Needs root and debootstrap. Prints nothing unless it
# fails.
set -euo pipefail
cd "$(dirname "$0")/.."

root=.tools/bookworm
ready() { [ -x "$root/usr/bin/systemd-analyze" ] && [ -x "$root/usr/bin/kill" ] && [ -e "$root/.complete" ]; }
ready && exit 0

# The same archive as the machine's own bookworm entry (as in scripts/install-test-deps.sh).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
cache=.tools/container-base/debs

mkdir -p .tools "$cache"
exec 9>.tools/bookworm.lock
flock 9
ready && exit 0

new=$root.new
log=$(mktemp /var/tmp/sshd-exporter-bookworm.XXXXXX)
trap 'rm -f "$log"' EXIT
fail() {
  tail -n 30 "$log" >&2
  echo "make-bookworm-root: $1 failed (mirror $mirror)" >&2
  exit 1
}
rm -rf "$new"
unshare --mount --propagation private \
  debootstrap --variant=minbase --keyring="$keyring" --cache-dir="$PWD/$cache" \
  bookworm "$new" "$mirror" >"$log" 2>&1 || fail debootstrap

printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
chmod 755 "$new/usr/sbin/policy-rc.d"
unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc"
  chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    systemd procps' sh "$new" >>"$log" 2>&1 || fail "apt-get install systemd procps"
rm -f "$new/usr/sbin/policy-rc.d"
rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/cache/apt/*.bin "$new"/var/lib/apt/lists/*_Packages

chroot "$new" /usr/bin/systemd-analyze --version >>"$log" 2>&1 || fail "systemd-analyze --version in the root"
touch "$new/.complete"
rm -rf "$root"
mv "$new" "$root"
