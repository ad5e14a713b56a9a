#!/usr/bin/env bash
# Makes .tools/trixie: a Debian 13 (trixie) root with trixie's own openssh-server and
# openssh-client, for the test bed's third real OpenSSH build (test/helpers/sshd/ runs its sshd
# chrooted there, in the test's mount and PID namespaces).
#
# debootstrap --variant=minbase from the machine's own Debian archive (the machine's
# debian-archive-keyring has trixie's keys), then apt-get in a chroot, with a policy-rc.d so that
# nothing starts. Every mount (proc) lives in a mount namespace of its own and goes away with it.
# Built in .tools/trixie.new and moved into place when complete: does nothing when .tools/trixie
# is there. Needs root and debootstrap. Prints nothing unless it fails.
set -euo pipefail
cd "$(dirname "$0")/.."

root=.tools/trixie
[ -x "$root/usr/sbin/sshd" ] && [ -e "$root/.complete" ] && exit 0

# The same archive as the machine's own bookworm entry (as in scripts/install-test-deps.sh).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

mkdir -p .tools
exec 9>.tools/trixie.lock
flock 9
[ -x "$root/usr/sbin/sshd" ] && [ -e "$root/.complete" ] && exit 0

new=$root.new
log=$(mktemp /var/tmp/sshd-exporter-trixie.XXXXXX)
trap 'rm -f "$log"' EXIT
fail() {
  tail -n 30 "$log" >&2
  echo "make-trixie-root: $1 failed (mirror $mirror)" >&2
  exit 1
}
rm -rf "$new"
unshare --mount --propagation private \
  debootstrap --variant=minbase --keyring="$keyring" trixie "$new" "$mirror" >"$log" 2>&1 ||
  fail debootstrap

printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
chmod 755 "$new/usr/sbin/policy-rc.d"
unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc"
  chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  chroot "$1" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    openssh-server openssh-client' sh "$new" >>"$log" 2>&1 || fail "apt-get install openssh-server"
rm -f "$new/usr/sbin/policy-rc.d"
rm -rf "$new"/var/cache/apt/archives/*.deb "$new"/var/cache/apt/*.bin "$new"/var/lib/apt/lists/*_Packages

version=$(chroot "$new" /usr/sbin/sshd -V 2>&1 || true)
case "$version" in OpenSSH_*) ;; *) echo "$version" >>"$log" && fail "sshd -V in the root" ;; esac
touch "$new/.complete"
rm -rf "$root"
mv "$new" "$root"
