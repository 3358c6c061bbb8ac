#!/usr/bin/env bash
# `npm run test:all`: sets up what the tests need on a fresh machine, then runs `npm test`
# (type-check, lint, unit + database tests, production build, Playwright e2e with a real worker).
# The e2e browser: Debian's chromium when root on Debian (Playwright cannot download its own
# browser on networks like CI's), Playwright's own chromium elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing Debian's chromium for the e2e tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi

if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "==> no system chromium: installing Playwright's own"
  npx playwright install chromium
  echo "    (on Linux it also needs the browser's system libraries: sudo npx playwright install-deps chromium)"
fi

npm test
