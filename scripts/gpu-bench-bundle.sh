#!/usr/bin/env bash
# Packs bench/mobilenetv2-predict.ts for a GPU machine that has no Node.js and no network
# (STACK.md "GPU facts"): an xz-compressed copy of this node binary, the bench as one CommonJS
# bundle (esbuild), and the few files it loads at run time (the wasm binaries and the `webgpu`
# package's Dawn addon for linux-x64). Writes .gpu-bundle/ (git-ignored; ~50 MB) with run.sh:
#   bash .gpu-bundle/run.sh [bench options]
set -euo pipefail
cd "$(dirname "$0")/.."
out=.gpu-bundle
# The compressed node binary takes minutes to make: kept when it matches this node.
[ -f "$out/node.xz" ] && [ "$(cat "$out/node.version" 2>/dev/null)" = "$(node -v)" ] && mv "$out/node.xz" /tmp/fixlabel-node.xz.keep
rm -rf "$out" && mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist"
# import.meta.url has no meaning in CommonJS: give it the bundle's own file URL.
echo 'export const importMetaUrl = require("node:url").pathToFileURL(__filename).href;' > "$out/import-meta-url.js"
npx esbuild bench/mobilenetv2-predict.ts --bundle --platform=node --format=cjs --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --inject:"$out/import-meta-url.js" --define:import.meta.url=importMetaUrl \
  --log-level=warning --outfile="$out/bench.cjs"
rm "$out/import-meta-url.js"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$out/node_modules/webgpu/dist/linux-x64/"
cp node_modules/@tensorflow/tfjs-backend-wasm/package.json "$out/node_modules/@tensorflow/tfjs-backend-wasm/"
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$out/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
if [ -f /tmp/fixlabel-node.xz.keep ]; then mv /tmp/fixlabel-node.xz.keep "$out/node.xz"; else xz -T2 -6 -c "$(command -v node)" > "$out/node.xz"; fi
node -v > "$out/node.version"
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Unpacks node next to the bundle (once) and runs the bench with the given options.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
node="${TMPDIR:-/tmp}/fixlabel-node"
[ -x "$node" ] || { xz -dc "$here/node.xz" > "$node" && chmod +x "$node"; }
exec "$node" "$here/bench.cjs" "$@"
RUN
chmod +x "$out/run.sh"
du -sh "$out"
