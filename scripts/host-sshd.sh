#!/usr/bin/env bash
# Another sshd already running on the machine, as on most hosts the exporter meets: the system's
# /usr/sbin/sshd on 127.0.0.1:22 (host keys from `ssh-keygen -A`), with one root login holding a
# pty, so that the host's /run/utmp (made when the machine has none) holds a live login.
# .ci/run runs the real-sshd tests a second time beside it.
#
#   scripts/host-sshd.sh start   starts both; fails when port 22 is taken
#   scripts/host-sshd.sh stop    stops what start started and removes the /run/utmp it made
#
# Needs root, openssh-server and openssh-client (scripts/install-test-deps.sh). Loopback only; its
# files (key, log, pids) live in /run/sshd-exporter-host-sshd.
set -euo pipefail
state=/run/sshd-exporter-host-sshd

stop() {
  for pid in "$state/client.pid" "$state/sshd.pid"; do
    [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
  done
  if [ -e "$state/made-utmp" ]; then rm -f /run/utmp; fi
  rm -rf "$state"
}

case "${1:-}" in
  start)
    [ ! -e "$state" ] || stop
    mkdir -p "$state" /run/sshd
    ssh-keygen -A
    if [ ! -e /run/utmp ]; then
      install -m 0664 -g utmp /dev/null /run/utmp
      touch "$state/made-utmp"
    fi
    ssh-keygen -q -t ed25519 -N '' -C 'sshd-exporter CI' -f "$state/client"
    cp "$state/client.pub" "$state/authorized_keys"
    /usr/sbin/sshd -o ListenAddress=127.0.0.1 -o Port=22 -o PidFile="$state/sshd.pid" \
      -o AuthorizedKeysFile="$state/authorized_keys" -o PermitRootLogin=prohibit-password \
      -E "$state/sshd.log"
    ssh -F /dev/null -tt -i "$state/client" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR root@127.0.0.1 'exec sleep infinity' \
      </dev/null >"$state/client.log" 2>&1 &
    echo $! >"$state/client.pid"
    for _ in $(seq 100); do
      who | grep -q '^root .*(127\.0\.0\.1)$' && exit 0
      sleep 0.1
    done
    echo "host-sshd: no login in /run/utmp after 10 s" >&2
    cat "$state/sshd.log" "$state/client.log" >&2
    stop
    exit 1
    ;;
  stop) stop ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
