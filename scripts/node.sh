#!/usr/bin/env bash
# Runs node with the given arguments: the machine's own when it is 22.18 or newer, else Node.js 24
# from the npm registry (scripts/install-node.sh puts it in .tools/node, once), which one line on
# stderr then names. Its bin directory goes first on PATH for whatever node starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if node -e 'const [a, b] = process.versions.node.split(".").map(Number)
process.exit(a > 22 || (a === 22 && b >= 18) ? 0 : 1)' 2>/dev/null; then
  exec node "$@"
fi
have=$(node --version 2>/dev/null || echo none)
bin=$(bash "$root/scripts/install-node.sh")
echo "sshd-exporter: node on PATH is $have, older than 22.18: running Node.js $("$bin/node" --version) from the npm registry, in .tools/node" >&2
PATH="$bin:$PATH" exec "$bin/node" "$@"
