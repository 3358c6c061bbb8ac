// @ts-check
/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native and wasm packages must be loaded by Node at run time, not bundled:
  // bundling loses better-sqlite3's .node binary, sharp's libvips and tfjs' wasm files.
  serverExternalPackages: [
    "better-sqlite3",
    "sharp",
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-layers",
    "@tensorflow/tfjs-backend-wasm",
    "@tensorflow/tfjs-backend-cpu",
    "@tensorflow/tfjs-node",
    "@tensorflow/tfjs-node-gpu",
  ],
  poweredByHeader: false,
};
module.exports = nextConfig;
