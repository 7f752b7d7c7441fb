#!/bin/bash
# Debian packages the test suite uses: a real redis-server (store and
# distributed tests), bats and nodejs (real TAP producers), perl/prove
# (verdict comparison), libglib2.0-tests (a real TAP suite), GNU parallel and time (benchmark peers), chromium
# (HTML report test). Installs only what is missing; needs root (CI is).
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v bats >/dev/null 2>&1 || need+=(bats)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v prove >/dev/null 2>&1 || need+=(perl)
command -v parallel >/dev/null 2>&1 || need+=(parallel)
[ -x /usr/bin/time ] || need+=(time)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# GLib's installed tests: a real TAP suite nobody here wrote (prove comparison).
[ -d /usr/libexec/installed-tests/glib ] || need+=(libglib2.0-tests)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing ${need[*]}; run as root or install them" >&2
  exit 1
fi
echo "install-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
