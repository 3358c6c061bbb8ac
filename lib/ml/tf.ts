/**
 * The one place lib/ml imports TensorFlow.js from.
 *
 * Kernels, gradients and backends are registered in a per-process registry that lives inside
 * @tensorflow/tfjs-core. If two copies of tfjs-core were loaded (say 4.22 for us and another for
 * a native backend), a backend registered on one copy would be invisible to models built with the
 * other. So every module here imports `tf` from this file, and the optional native backends must
 * resolve to the same copy: install `@tensorflow/tfjs-node@4.22.0` (or `-gpu@4.22.0`), exactly
 * the version of tfjs-core in package.json, so npm dedupes their `@tensorflow/tfjs` → tfjs-core
 * dependency onto ours (`npm ls @tensorflow/tfjs-core` must show a single 4.22.0).
 * lib/ml/backend.ts checks this at run time and refuses a native backend registered elsewhere.
 */
export * from "@tensorflow/tfjs-core";
export * from "@tensorflow/tfjs-layers";
