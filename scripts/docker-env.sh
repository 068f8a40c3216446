#!/usr/bin/env bash
# Make a Docker engine available for kapi's Docker-backed nodes and their tests:
# install Debian's docker.io and busybox-static when missing (as root, idempotent), start
# dockerd when none answers (bounded wait), then build the local images (busybox:latest,
# kapi/pause:latest) with runtime/kubelet/images.py. Never pulls: no registry is reachable.
# Without root and without an engine it says what to do and exits 0, so `make up` still
# starts the control plane with simulated nodes.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
LOG=${DOCKERD_LOG:-/tmp/kapi-dockerd.log}

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "docker-env: missing ${need[*]}; as root: apt-get install -y ${need[*]}" >&2
    exit 0
  fi
  echo "docker-env: installing ${need[*]} (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "docker-env: no Docker engine answers; as root: setsid dockerd >$LOG 2>&1 &" >&2
    exit 0
  fi
  echo "docker-env: starting dockerd (log in $LOG)" >&2
  setsid dockerd >"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 120); do  # at most 60 s
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "docker-env: dockerd did not start; see $LOG" >&2; exit 1; }
fi
echo "docker-env: building the local images (busybox, pause) when missing" >&2
"$PYTHON" -m runtime.kubelet.images
# the stand-ins for upstream's test images, under upstream's names (conformance/images/)
echo "docker-env: building the stand-ins for upstream's test images when missing" >&2
exec "$PYTHON" -m conformance.images.build
