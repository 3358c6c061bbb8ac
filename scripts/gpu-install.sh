#!/usr/bin/env bash
# `npm run gpu:install` (or `npm run app -- --gpu`): adds @tensorflow/tfjs-node-gpu, the CUDA build
# of libtensorflow, at exactly the tfjs-core version in use (a second tfjs-core copy would register
# its backend where our models cannot see it). Not saved to package.json: it needs an NVIDIA GPU
# with CUDA 11.2 + cuDNN 8.1 and downloads libtensorflow at install time, which not every
# machine can. Then prints which backend loads and why.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("@tensorflow/tfjs-core/package.json").version')
echo "==> installing @tensorflow/tfjs-node-gpu@$version"
if ! npm install --no-save --no-audit --no-fund "@tensorflow/tfjs-node-gpu@$version"; then
  echo "!! @tensorflow/tfjs-node-gpu did not install (its libtensorflow download failed?); training stays on the next backend" >&2
fi
npx tsx scripts/train.ts --backend-info
