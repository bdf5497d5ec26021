#!/usr/bin/env bash
# A private Docker engine for the real-engine image tests (tests/image/), started and stopped by PID.
#
#   scripts/docker-engine.sh install   # Debian's docker.io (as root); a no-op when dockerd is there
#   eval "$(scripts/docker-engine.sh start)"   # prints `export DOCKER_HOST=unix://...` and DOCKER_CLI
#   scripts/docker-engine.sh stop
#   scripts/docker-engine.sh base TAG  # an offline base image: this machine's python3 in an imported rootfs
#
# The engine lives in one directory (ENGINE_DIR, default /tmp/releasectl-engine): its socket, data root,
# exec root and PID file. It touches no system-wide Docker: no bridge, no iptables rules, no
# /var/run/docker.sock, so it can run beside other work; containers use `--network host`.
set -euo pipefail

ENGINE_DIR=${ENGINE_DIR:-/tmp/releasectl-engine}
SOCKET="$ENGINE_DIR/docker.sock"
PIDFILE="$ENGINE_DIR/dockerd.pid"
LOG="$ENGINE_DIR/dockerd.log"
# Debian's client, not whatever `docker` comes first on PATH: its version matches the daemon's.
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker || true)}

die() { echo "docker-engine: $*" >&2; exit 1; }

install_engine() {
  if command -v dockerd >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] || die "dockerd is not installed; as root: apt-get install docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
}

# A PID from a file is only ours while it is still a dockerd: after a restart the number may be another's.
is_dockerd() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = dockerd ]; }
running() { [ -f "$PIDFILE" ] && is_dockerd "$(cat "$PIDFILE")"; }

start_engine() {
  command -v dockerd >/dev/null 2>&1 || die "dockerd is not installed (run: $0 install)"
  [ "$(id -u)" = 0 ] || die "dockerd needs root"
  if ! running; then
    # What a killed engine left (its mounts, its data) would trip the new one: start from nothing.
    stop_engine
    mkdir -p "$ENGINE_DIR"
    # setsid: the daemon outlives this script, and a Ctrl-C in the caller's terminal does not reach it.
    setsid dockerd \
      --host "unix://$SOCKET" \
      --data-root "$ENGINE_DIR/data" \
      --exec-root "$ENGINE_DIR/exec" \
      --pidfile "$PIDFILE" \
      --bridge=none --iptables=false --ip-masq=false \
      --userland-proxy=false \
      >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE.launch"
    for _ in $(seq 1 150); do
      if DOCKER_HOST="unix://$SOCKET" "$DOCKER" version >/dev/null 2>&1; then break; fi
      is_dockerd "$(cat "$PIDFILE.launch")" || { tail -5 "$LOG" >&2; die "dockerd exited (log: $LOG)"; }
      sleep 0.2
    done
  fi
  DOCKER_HOST="unix://$SOCKET" "$DOCKER" version >/dev/null 2>&1 || { tail -5 "$LOG" >&2; die "dockerd did not answer in 30 s"; }
  echo "export DOCKER_HOST=unix://$SOCKET"
  echo "export DOCKER_CLI=$DOCKER"
}

stop_engine() {
  local pid
  for file in "$PIDFILE" "$PIDFILE.launch"; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    if is_dockerd "$pid"; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
  done
  # What the daemon mounted under its directories (overlay layers, netns, shm), deepest first.
  if [ -d "$ENGINE_DIR" ]; then
    awk -v dir="$ENGINE_DIR/" 'index($2, dir) == 1 {print $2}' /proc/mounts | sort -r | while read -r mnt; do
      umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
    done
    rm -rf "$ENGINE_DIR"
  fi
}

# A base image made offline (no registry is reachable from CI): this machine's python3, its shared
# libraries and its standard library, imported as a one-layer image with python on PATH.
make_base() {
  local tag=$1 root python stdlib
  root=$(mktemp -d)
  # Debian's own interpreter (not a pyenv shim or a virtualenv's link): a real binary and its libraries.
  python=$(readlink -f "${BASE_PYTHON:-/usr/bin/python3}")
  stdlib=$("$python" -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')
  mkdir -p "$root/usr/bin" "$root/tmp"
  cp "$python" "$root/usr/bin/python3"
  ln -s python3 "$root/usr/bin/python"
  { ldd "$python"; find "$stdlib/lib-dynload" -name '*.so' -exec ldd {} +; } 2>/dev/null | awk '/=> \// {print $3} /^\t\// {print $1}' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  mkdir -p "$root$(dirname "$stdlib")"
  # The standard library without its tests and tools: the image needs http.server, json and urllib.
  tar -C / --exclude='__pycache__' --exclude="${stdlib#/}/test" --exclude="${stdlib#/}/idlelib" \
    --exclude="${stdlib#/}/tkinter" --exclude="${stdlib#/}/ensurepip" --exclude="${stdlib#/}/lib2to3" \
    --exclude="${stdlib#/}/site-packages" --exclude="${stdlib#/}/dist-packages" -cf - "${stdlib#/}" \
    | tar -C "$root" -xf -
  chmod 1777 "$root/tmp"
  tar -C "$root" -cf - . | DOCKER_HOST=${DOCKER_HOST:-unix://$SOCKET} "$DOCKER" import \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["python3"]' - "$tag" >/dev/null
  rm -rf "$root"
  echo "$tag"
}

case "${1:-}" in
  install) install_engine ;;
  start) start_engine ;;
  stop) stop_engine ;;
  base) [ -n "${2:-}" ] || die "usage: $0 base TAG"; make_base "$2" ;;
  *) die "usage: $0 install|start|stop|base TAG" ;;
esac
