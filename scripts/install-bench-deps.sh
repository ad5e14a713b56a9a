#!/usr/bin/env bash
# Installs what the benchmarks run against, from Debian's archive only:
#   - prometheus-process-exporter and prometheus-node-exporter, the Go peers that bench/peers.ts
#     points at the same synthetic procfs tree as the exporter;
#   - mtail, the log-based peer;
#   - gcc.
# The packages' services are kept from starting (policy-rc.d), and stopped if they run anyway:
# the benchmarks start their own instances on free loopback ports.
# Needs root (apt-get). Safe to run again: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

need=()
for cmd in /usr/bin/prometheus-process-exporter:prometheus-process-exporter \
  /usr/bin/prometheus-node-exporter:prometheus-node-exporter /usr/bin/mtail:mtail /usr/bin/gcc:gcc; do
  [ -x "${cmd%%:*}" ] || need+=("${cmd##*:}")
done

if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  # policy-rc.d keeps the packages' services from starting on this machine. One left by someone
  # else is kept as it was.
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Where systemd runs, make sure the packaged services are not running (the benchmarks start their
# own); without systemd, policy-rc.d kept them from starting.
if [ -d /run/systemd/system ]; then
  for unit in prometheus-process-exporter prometheus-node-exporter mtail; do
    if systemctl is-active --quiet "$unit" 2>/dev/null; then systemctl stop "$unit" || true; fi
  done
fi

echo "process-exporter: $(prometheus-process-exporter -version 2>&1 | head -n1)"
echo "node_exporter:    $(prometheus-node-exporter --version 2>&1 | head -n1)"
echo "mtail:            $(mtail --version 2>&1 | head -n1)"
echo "gcc:              $(gcc --version | head -n1)"
