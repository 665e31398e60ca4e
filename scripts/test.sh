#!/usr/bin/env bash
# Installs what the tests need on a fresh machine, starts the services, runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v dovecot >/dev/null 2>&1 || need_apt+=(dovecot-imapd)
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
command -v pdftotext >/dev/null 2>&1 || need_apt+=(poppler-utils)
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # the Debian services are not wanted: the tests start their own servers
  for svc in nginx dovecot; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
fi

make --no-print-directory install-test

# PostgreSQL and Redis run on every machine of this project; start them if they are down.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis >/dev/null 2>&1 || true
fi

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
