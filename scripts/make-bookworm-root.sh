#!/usr/bin/env bash
# Makes .tools/bookworm: a Debian 12 (bookworm) root with systemd in it, for
# test/real/packages.test.ts: the test installs the .deb that packaging/build.sh makes into a
# copy of this root (an overlay; the root itself stays clean), runs `systemd-analyze verify` on
# the packaged unit there and the packaged binary. minbase has neither systemd nor /bin/kill
# (procps, which the package depends on for the unit's ExecReload). How:
# scripts/make-debian-root.sh.
set -euo pipefail
exec bash "$(dirname "$0")/make-debian-root.sh" bookworm \
  'systemd-analyze --version && test -x /usr/bin/kill' systemd procps
