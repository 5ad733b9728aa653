#!/usr/bin/env bash
# Installs the Debian 12 packages taskdex needs, only those missing.
set -euo pipefail
PACKAGES=(
  build-essential cmake ninja-build pkg-config python3
  libabsl-dev libsimdjson-dev rapidjson-dev libroaring-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcpp-httplib-dev
  libpq-dev libsqlite3-dev libboost1.74-dev
  # PostgreSQL 15 server for tests/testing/pg_cluster (ships pg_trgm itself:
  # /usr/share/postgresql/15/extension/pg_trgm.control is in postgresql-15,
  # postgresql-contrib is only a metapackage on Debian 12); util-linux for
  # runuser (pg_cluster itself drops root with setuid in the child).
  postgresql-15 util-linux
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present" >&2
fi
