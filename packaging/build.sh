#!/usr/bin/env bash
# Packages the single executable as a .deb and an .rpm:
#
#   packaging/build.sh BINARY ARCH VERSION [OUT]
#
# BINARY: the executable (sshd-exporter-VERSION.linux-ARCH/sshd-exporter, unpacked from the
# tarball `npm run release` writes in release/; its LICENSE and THIRD-PARTY-NOTICES.txt beside
# it are packaged too); ARCH: amd64 or arm64; VERSION: e.g. 0.1.0 (a `-` becomes `~`, so that
# 0.2.0-rc.1 sorts before 0.2.0 in both dpkg and rpm); OUT: default release/. Writes
#   OUT/sshd-exporter_VERSION_ARCH.deb            (dpkg-deb)
#   OUT/sshd-exporter-VERSION-1.RPMARCH.rpm        (rpmbuild; RPMARCH x86_64 or aarch64)
# and prints their paths. Both hold the same files:
#   /usr/bin/sshd-exporter                         BINARY
#   /usr/lib/systemd/system/sshd-exporter.service  deploy/systemd/sshd-exporter.service, with
#                                                  ExecStart=/usr/bin/sshd-exporter $ARGS
#   /usr/lib/sysusers.d/sshd-exporter.conf         packaging/sshd-exporter.sysusers
#   /etc/default/sshd-exporter                     deploy/systemd/sshd-exporter.default (a
#                                                  conffile; %config(noreplace))
#   /usr/share/doc/sshd-exporter/copyright         LICENSE
#   /usr/share/doc/sshd-exporter/THIRD-PARTY-NOTICES.txt   when it is beside BINARY
# Depends: procps (.deb) and Requires: util-linux (.rpm), for the unit's ExecReload=/bin/kill.
# The user is made by the scripts (packaging/deb/, packaging/rpm/), the service neither enabled
# nor started. zstd-compressed (dpkg 1.21.18 or newer, rpm of RHEL 8.2 or newer).
# Nothing is compiled. Reproducible: the same inputs and SOURCE_DATE_EPOCH (default: the last
# commit's time) give the same bytes; every mtime is SOURCE_DATE_EPOCH, every owner root.
# Needs dpkg-deb, and rpmbuild (Debian's package `rpm`). See docs/install.md, "Packages".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

die() {
  echo "packaging/build.sh: $*" >&2
  exit 1
}
[ $# -ge 3 ] && [ $# -le 4 ] || die "usage: packaging/build.sh BINARY ARCH VERSION [OUT]"
binary=$1
arch=$2
version=${3//-/\~}
out=${4:-$repo/release}

case "$arch" in
  amd64) rpmarch=x86_64 elf_machine=3e00 ;;
  arm64) rpmarch=aarch64 elf_machine=b700 ;;
  *) die "ARCH is amd64 or arm64, not $arch" ;;
esac
[[ $version =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "not a version for dpkg and rpm: $3"
[ -f "$binary" ] && [ -x "$binary" ] || die "$binary is not an executable file"
# A 64-bit little-endian ELF for ARCH: bytes 0-3 the magic, 4 the class, 5 the byte order,
# 18-19 e_machine.
header=$(od -An -tx1 -N20 "$binary" | tr -d ' \n')
[ "${header:0:12}" = 7f454c460201 ] || die "$binary is not a 64-bit little-endian ELF file"
[ "${header:36:4}" = "$elf_machine" ] || die "$binary is not an $arch executable"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing"
command -v rpmbuild >/dev/null || die "rpmbuild is missing (apt-get install rpm)"

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$repo" log -1 --format=%ct) || die "set SOURCE_DATE_EPOCH"
fi
export SOURCE_DATE_EPOCH
# Neither the locale nor the time zone may show in the packages.
export LC_ALL=C TZ=UTC
umask 022

# The license files: beside the binary (as in its release tarball), else the checkout's.
bindir=$(dirname "$binary")
license=$bindir/LICENSE
[ -f "$license" ] || license=$repo/LICENSE
[ -f "$license" ] || die "no LICENSE beside $binary or in $repo"
notices=$bindir/THIRD-PARTY-NOTICES.txt

work=$(mktemp -d "${TMPDIR:-/tmp}/sshd-exporter-packaging.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/root

# The files, as both packages install them.
install -D -m 0755 "$binary" "$stage/usr/bin/sshd-exporter"
install -D -m 0644 "$repo/deploy/systemd/sshd-exporter.default" "$stage/etc/default/sshd-exporter"
install -D -m 0644 "$here/sshd-exporter.sysusers" "$stage/usr/lib/sysusers.d/sshd-exporter.conf"
install -D -m 0644 "$license" "$stage/usr/share/doc/sshd-exporter/copyright"
if [ -f "$notices" ]; then
  install -D -m 0644 "$notices" "$stage/usr/share/doc/sshd-exporter/THIRD-PARTY-NOTICES.txt"
fi

# The unit: deploy/systemd/sshd-exporter.service with ExecStart on the binary, without the
# comment on Node.js's path, and with a header saying how the package installs it. Fails when
# the deploy unit no longer has the lines this rewrites.
unit=$stage/usr/lib/systemd/system/sshd-exporter.service
mkdir -p "$(dirname "$unit")"
awk '
  /^# Install \(see docs\/install\.md/ { header++; skip = 1; next }
  skip && /^# system user `sshd-exporter`\. Change settings/ {
    skip = 0
    print "# Installed by the sshd-exporter .deb or .rpm (see docs/install.md, \"Packages\"), with the"
    print "# binary /usr/bin/sshd-exporter, /etc/default/sshd-exporter and the system user `sshd-exporter`"
    print "# (/usr/lib/sysusers.d/sshd-exporter.conf); made by packaging/build.sh from"
    print "# deploy/systemd/sshd-exporter.service. Change settings with the environment file or with"
    next
  }
  skip { next }
  /^# Node\.js [0-9.]+ or newer/ {
    comment++
    print "# The single executable: Node.js and its flags (--optimize-for-size) are built in."
    next
  }
  /^ExecStart=/ { exec++; print "ExecStart=/usr/bin/sshd-exporter $ARGS"; next }
  { print }
  END { if (header != 1 || skip || comment != 1 || exec != 1) exit 1 }
' "$repo/deploy/systemd/sshd-exporter.service" >"$unit" ||
  die "deploy/systemd/sshd-exporter.service changed: update the unit's rewrite in packaging/build.sh"
chmod 0644 "$unit"
if grep -nE '/opt/|/usr/bin/node' "$unit" >&2; then die "the packaged unit still names Node.js or /opt"; fi

find "$stage" -type d -exec chmod 0755 {} +
clamp() { find "$1" -exec touch --no-dereference --date="@$SOURCE_DATE_EPOCH" {} +; }
clamp "$stage"
mkdir -p "$out"

# The .deb. Installed-Size as dpkg-gencontrol counts it: each file's size rounded up to KiB, 1
# for each directory.
deb=$out/sshd-exporter_${version}_${arch}.deb
debroot=$work/deb
cp -a "$stage" "$debroot"
installed_size=$(find "$debroot" -mindepth 1 \( -type f -printf '%s\n' -o -printf '0\n' \) |
  awk '{ n += $1 > 0 ? int(($1 + 1023) / 1024) : 1 } END { print n }')
mkdir -m 0755 "$debroot/DEBIAN"
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_size/" \
  -e "s/@MAINTAINER@/${MAINTAINER:-sshd-exporter maintainers <maintainers@sshd-exporter.invalid>}/" \
  "$here/deb/control.in" >"$debroot/DEBIAN/control"
install -m 0644 "$here/deb/conffiles" "$debroot/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "$here/deb/$script" "$debroot/DEBIAN/"; done
(cd "$debroot" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort | xargs md5sum) \
  >"$debroot/DEBIAN/md5sums"
chmod 0644 "$debroot/DEBIAN/control" "$debroot/DEBIAN/md5sums"
clamp "$debroot"
# zstd (dpkg 1.21.18 or newer: Debian 12, Ubuntu 21.10) at level 6, one thread, so that the
# bytes do not depend on the machine's CPUs; made while rpmbuild runs.
dpkg-deb --root-owner-group -Zzstd -z6 --threads-max=1 --build "$debroot" "$deb" >/dev/null &
deb_pid=$!

# The .rpm, from the same files: the file list is the staged tree's, with each file's mode.
filelist=$work/files.list
(
  cd "$stage"
  echo '%dir /usr/share/doc/sshd-exporter'
  find . -type f -printf '%P %m\n' | sort | while read -r path mode; do
    case "$path" in
      etc/default/*) attrs='%config(noreplace) ' ;;
      usr/share/doc/*/copyright) attrs='%license ' ;;
      usr/share/doc/*) attrs='%doc ' ;;
      *) attrs= ;;
    esac
    echo "$attrs%attr($mode,root,root) /$path"
  done
) >"$filelist"
rpmbuild -bb --quiet --target "$rpmarch-linux" \
  --define "_topdir $work/rpmbuild" \
  --define "_rpmdir $work/rpms" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  --define "staging $stage" \
  --define "filelist $filelist" \
  --define "pkg_version $version" \
  --define "payload w6.zstdio" \
  "$here/rpm/sshd-exporter.spec" >"$work/rpmbuild.log" 2>&1 || {
  cat "$work/rpmbuild.log" >&2
  die "rpmbuild failed"
}
wait "$deb_pid" || die "dpkg-deb failed"
rpm=$out/sshd-exporter-$version-1.$rpmarch.rpm
mv "$work/rpms/sshd-exporter-$version-1.$rpmarch.rpm" "$rpm"
echo "$deb"
echo "$rpm"
