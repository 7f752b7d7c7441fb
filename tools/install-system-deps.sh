#!/bin/bash
# Debian packages mozparallel's tests and examples use; installs only what is
# missing (needs root, as CI is). With --examples, only what the bundled
# example suite needs (bats, nodejs).
#   redis-server       store and distributed tests (a real server, not a mock)
#   bats, nodejs       real TAP producers (examples/, test_producers.py)
#   perl (prove)       verdict comparison with prove
#   libglib2.0-tests   a real TAP suite nobody here wrote (prove comparison)
#   parallel, time     benchmark peers
#   chromium           the HTML report test
set -euo pipefail
need=()
command -v bats >/dev/null 2>&1 || need+=(bats)
command -v node >/dev/null 2>&1 || need+=(nodejs)
if [ "${1:-}" != "--examples" ]; then
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
  command -v prove >/dev/null 2>&1 || need+=(perl)
  command -v parallel >/dev/null 2>&1 || need+=(parallel)
  [ -x /usr/bin/time ] || need+=(time)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  [ -d /usr/libexec/installed-tests/glib ] || need+=(libglib2.0-tests)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: missing ${need[*]}; run as root or install them" >&2
  exit 1
fi
echo "install-system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
