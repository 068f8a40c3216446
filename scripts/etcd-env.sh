#!/usr/bin/env bash
# Make etcd available for the etcd backend's tests (--storage etcd): install Debian's
# etcd-server (the etcd binary) and etcd-client (etcdctl) when missing, as root,
# idempotently. Starts nothing: each test runs its own etcd on free loopback ports.
# Without root it says what to do and exits 0; the etcd tests then skip, unless
# KAPI_REQUIRE_ETCD=1 (as in CI) makes that a failure.
set -uo pipefail
command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "etcd-env: no etcd; as root: apt-get install -y etcd-server etcd-client" >&2
  exit 0
fi
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server etcd-client >/dev/null
# Debian's package may start a system etcd on the default ports; tests never use it.
command -v etcd >/dev/null 2>&1 || { echo "etcd-env: etcd-server did not install" >&2; exit 1; }
