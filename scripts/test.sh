#!/usr/bin/env bash
# `npm test`: all of it. As root, it first installs what the tests run against, from Debian's
# archive (scripts/install-test-deps.sh; nothing when all is there), and Node.js 24 when the
# machine's is older (scripts/install-node.sh). Then type-check, lint, format check, every test
# (test/real/ too), and the tests in test/real/ that start sshd a second time as on another kind
# of host: no /run/utmp in the test sshds' namespaces, and another sshd on 127.0.0.1:22 with a
# root pty login in the host's utmp (scripts/host-sshd.sh; when port 22 is already taken, beside
# whatever sshd holds it). `npm run test:unit` runs the tests outside test/real/ only.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ]; then
  bash scripts/install-test-deps.sh
  # Everything is installed now: a missing sshd, promtool or namespace tool fails, never skips.
  export SSHD_EXPORTER_REQUIRE_REAL=${SSHD_EXPORTER_REQUIRE_REAL:-1}
else
  echo "npm test: not root: the tests that start real servers will fail (npm run test:unit runs the others)" >&2
fi
PATH="$(bash scripts/install-node.sh):$PATH"
export PATH
echo "node $(node --version), npm $(npm --version)"
npm run typecheck
npm run lint
export SSHD_EXPORTER_PROPERTY_RUNS=${SSHD_EXPORTER_PROPERTY_RUNS:-60} # npm run test:unit runs 20
node --test --test-concurrency=1 "test/**/*.test.ts"

if [ "$(id -u)" -eq 0 ]; then
  if (exec 3<>/dev/tcp/127.0.0.1/22) 2>/dev/null; then
    echo "npm test: port 22 is taken: the second pass runs beside the sshd that holds it" >&2
  else
    bash scripts/host-sshd.sh start
    trap 'bash scripts/host-sshd.sh stop' EXIT
  fi
  SSHD_TEST_UTMP=absent node --test --test-concurrency=1 \
    test/real/{sshd,alerts,config,events,privileges,processes,prometheus,sessions,sockets,stale,start-modes,trixie,walk}.test.ts
fi
