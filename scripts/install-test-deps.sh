#!/usr/bin/env bash
# Installs what the test suite runs against, from Debian's archive only:
#   - openssh-server and openssh-client (OpenSSH 9.2, bookworm), started by the tests;
#   - OpenSSH 10.0 from bookworm-backports, unpacked with dpkg -x into
#     .tools/openssh-10.0 (never installed over the system one);
#   - a Debian 13 (trixie) root in .tools/trixie with trixie's own openssh-server (OpenSSH 10.0p2),
#     made by scripts/make-trixie-root.sh (scripts/make-debian-root.sh); the tests run its sshd
#     chrooted there;
#   - prometheus (promtool and the server) and prometheus-alertmanager, for the alerts end to end;
#   - util-linux (unshare, setpriv) and iproute2 (tc, to drop packets in a test's own
#     network namespace);
#   - systemd-journal-remote and journalctl, to write sshd's lines into a real journal
#     file that the events collector reads with --collector.events.journal-directory;
#   - systemd-socket-activate (package systemd), which holds sshd's socket as systemd's
#     ssh.socket does (the test bed's start modes 'socket' and 'inetd');
#   - gcc, for the benchmark's C floors (test/real/bench.test.ts checks they count right);
#   - podman and debootstrap, for test/real/container.test.ts: it builds the Dockerfile with
#     `podman build --isolation=chroot` (as root, on the kernel's overlayfs: no uidmap,
#     fuse-overlayfs or slirp4netns)
#     on a stand-in base image that scripts/make-base-image.sh debootstraps;
#   - chromium, the headless browser test/helpers/browser.ts drives over the DevTools protocol
#     (test/real/browser.test.ts);
#   - rpm (rpmbuild, rpm) for packaging/build.sh, and a Debian 12 (bookworm) root with systemd in
#     .tools/bookworm, made by scripts/make-bookworm-root.sh with debootstrap (about 1 min, from
#     the container test's download cache; a few more without it): test/real/packages.test.ts
#     installs the .deb there.
# Needs root (apt-get). Safe to run again: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
for cmd in /usr/sbin/sshd:openssh-server /usr/bin/ssh:openssh-client /usr/bin/promtool:prometheus \
  /usr/bin/prometheus:prometheus /usr/bin/prometheus-alertmanager:prometheus-alertmanager \
  /usr/bin/unshare:util-linux /usr/bin/setpriv:util-linux \
  /usr/sbin/tc:iproute2 /usr/bin/openssl:openssl /lib/systemd/systemd-journal-remote:systemd-journal-remote \
  /usr/bin/journalctl:systemd /usr/bin/systemd-socket-activate:systemd /usr/bin/gcc:gcc \
  /usr/bin/podman:podman /usr/sbin/debootstrap:debootstrap /usr/bin/chromium:chromium \
  /usr/bin/rpmbuild:rpm; do
  [ -x "${cmd%%:*}" ] || need+=("${cmd##*:}")
done

suites=/etc/apt/sources.list.d/sshd-exporter-backports.sources
updated=
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # Same archive and key as the machine's own bookworm entry.
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' | head -n1 || true)
  cat >"$suites" <<SRC
Types: deb
URIs: ${uri:-http://deb.debian.org/debian}
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
if [ ${#need[@]} -gt 0 ] || [ ! -x .tools/openssh-10.0/usr/sbin/sshd ]; then
  apt-get update -qq
  updated=1
fi
if [ ${#need[@]} -gt 0 ]; then
  # policy-rc.d keeps the packages' services from starting on this machine.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
if [ ! -x .tools/openssh-10.0/usr/sbin/sshd ]; then
  [ -n "$updated" ] || apt-get update -qq
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -qq openssh-server/bookworm-backports 2>/dev/null)
  rm -rf .tools/openssh-10.0
  mkdir -p .tools/openssh-10.0
  dpkg -x "$tmp"/openssh-server_*.deb .tools/openssh-10.0
  rm -rf "$tmp"
fi
bash scripts/make-trixie-root.sh
bash scripts/make-bookworm-root.sh
echo "sshd 9.2: $(/usr/sbin/sshd -V 2>&1 | head -n1)"
echo "sshd 10:  $(.tools/openssh-10.0/usr/sbin/sshd -V 2>&1 | head -n1)"
echo "sshd 13:  $(chroot .tools/trixie /usr/sbin/sshd -V 2>&1 | head -n1) (Debian 13, .tools/trixie)"
echo "promtool: $(promtool --version 2>&1 | head -n1)"
