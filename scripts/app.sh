#!/usr/bin/env bash
# `npm run app`: the one command that sets up and starts FixLabel on a fresh machine:
# installs dependencies (when missing or out of date), builds (when the code changed), migrates
# the embedded SQLite database under ./data, and starts the web server plus the worker.
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> installing dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
# `npm run app -- --gpu`: also the CUDA backend (@tensorflow/tfjs-node-gpu), see scripts/gpu-install.sh.
if [ "${1:-}" = "--gpu" ]; then bash scripts/gpu-install.sh; fi

# Rebuild when the sources differ from the last build: a hash of the files the build reads, taken
# from the files themselves (not git: a tarball or a copy has no repository).
rev=$(node scripts/source-hash.mjs)
if [ ! -f .next/BUILD_ID ] || [ "$(cat .next/fixlabel-rev 2>/dev/null)" != "$rev" ]; then
  echo "==> building the web app"
  npx next build
  echo "$rev" > .next/fixlabel-rev
fi

exec node scripts/start.mjs
