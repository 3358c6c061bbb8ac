// @ts-check
/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native and wasm packages must be loaded by Node at run time, not bundled:
  // bundling loses better-sqlite3's .node binary, sharp's libvips, tfjs' wasm files and Dawn's
  // dawn.node (the optional `webgpu` package, whose platform path Turbopack cannot resolve).
  serverExternalPackages: [
    "better-sqlite3",
    "sharp",
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-layers",
    "@tensorflow/tfjs-backend-wasm",
    "@tensorflow/tfjs-backend-cpu",
    "@tensorflow/tfjs-node",
    "@tensorflow/tfjs-node-gpu",
    "@tensorflow/tfjs-backend-webgpu",
    "webgpu",
  ],
  poweredByHeader: false,
};
module.exports = nextConfig;
