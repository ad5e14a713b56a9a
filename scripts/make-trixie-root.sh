#!/usr/bin/env bash
# Makes .tools/trixie: a Debian 13 (trixie) root with trixie's own openssh-server and
# openssh-client, for the test bed's third real OpenSSH build (test/helpers/sshd/ runs its sshd
# chrooted there, in the test's mount and PID namespaces). How: scripts/make-debian-root.sh.
set -euo pipefail
exec bash "$(dirname "$0")/make-debian-root.sh" trixie \
  '/usr/sbin/sshd -V 2>&1 | grep -q "^OpenSSH_"' openssh-server openssh-client
