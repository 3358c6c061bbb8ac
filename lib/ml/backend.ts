/**
 * Picks the TensorFlow.js backend for training and inference, fastest first:
 *   tfjs-node-gpu (installed AND a GPU visible) > tfjs-node > wasm (+ the project's training
 *   kernels, lib/ml/kernels) > cpu (pure JS, ~200x slower than wasm: a last resort).
 * The native backends are optional extras a user installs on their own server (their install
 * downloads libtensorflow, which not every network allows); they are never dependencies, so they
 * are loaded with a run-time require that neither tsc nor a bundler follows.
 * FIXLABEL_TF_BACKEND (or opts.force) forces one; a forced choice that cannot load is an error.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./kernels";
import * as tf from "./tf";

export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export type BackendChoice = {
  name: BackendName;
  /** Why this one: forced, or why each faster one was skipped. Shown in the UI. */
  reason: string;
  /** wasm only: XNNPACK threads and whether the SIMD binary runs. */
  threads?: number;
  simd?: boolean;
};

export type InitBackendOptions = {
  force?: BackendName;
  /** Where to report the choice; the worker also stores the returned value. */
  log?: (line: string) => void;
};

type Attempt = { ok: true; threads?: number; simd?: boolean } | { ok: false; why: string };

// A require rooted at this file, so optional packages resolve from the project's node_modules
// whatever the working directory. Package names go through variables: nothing for tools to follow.
const requireHere = createRequire(import.meta.url);

/** The backend name tfjs-node and tfjs-node-gpu both register. */
const NATIVE_BACKEND = "tensorflow";

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}

function isMissingPackage(e: unknown, pkg: string): boolean {
  return (e as NodeJS.ErrnoException)?.code === "MODULE_NOT_FOUND" && firstLine(e).includes(`'${pkg}'`);
}

/** Null when a CUDA GPU is visible to this process, else why not. */
export function whyNoGpu(env: Record<string, string | undefined> = process.env, devDir = "/dev"): string | null {
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined && (visible.trim() === "" || visible.trim() === "-1")) {
    return `no GPU visible (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})`;
  }
  let devices: string[] = [];
  try {
    devices = fs.readdirSync(devDir).filter((d) => /^nvidia\d+$/.test(d));
  } catch {
    // no /dev listing: treat as no GPU
  }
  return devices.length > 0 ? null : "no GPU visible (no /dev/nvidia* device)";
}

/** Resolving without loading is cheap; loading pulls in libtensorflow. */
function whyNotInstalled(pkg: string): string | null {
  try {
    requireHere.resolve(pkg);
    return null;
  } catch (e) {
    return isMissingPackage(e, pkg) ? `${pkg} not installed` : `${pkg} cannot be resolved: ${firstLine(e)}`;
  }
}

async function tryNative(pkg: string, precondition: () => string | null = () => null): Promise<Attempt> {
  const blocker = whyNotInstalled(pkg) ?? precondition();
  if (blocker) return { ok: false, why: blocker };
  try {
    requireHere(pkg);
  } catch (e) {
    return { ok: false, why: `${pkg} failed to load: ${firstLine(e)}` };
  }
  // Registered on another copy of tfjs-core (version mismatch): our models would not see it.
  if (!tf.findBackendFactory(NATIVE_BACKEND)) {
    return { ok: false, why: `${pkg} uses another copy of @tensorflow/tfjs-core: install ${pkg}@${tf.version_core}` };
  }
  if (!(await tf.setBackend(NATIVE_BACKEND))) return { ok: false, why: `${pkg} failed to initialise` };
  return { ok: true };
}

let wasmPathsSet = false;

const WASM_PACKAGE = "@tensorflow/tfjs-backend-wasm";

/**
 * A package file's path on disk. In the Next.js server bundle, `requireHere.resolve("literal")` is
 * rewritten by the bundler into a module id (a number), which is what made the predict API fall
 * back to cpu ("The "path" argument must be of type string. Received type number"); a second
 * createRequire the bundler can see is replaced by a stub ("expression is too dynamic"). So then
 * Node's own resolver, fetched at run time, resolves the package from the app's folder.
 */
function resolveAtRunTime(request: string): string {
  let here: unknown = null;
  try {
    here = requireHere.resolve(request);
  } catch {
    // Bundled: the bundler's stand-in for a request it cannot see through throws.
  }
  if (typeof here === "string") return here;
  // Reached through process.getBuiltinModule (Node >= 20.16), which the bundler leaves alone; else the app folder's node_modules.
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  const nodeModule = getBuiltinModule?.("node:module") as typeof import("node:module") | undefined;
  const appPackage = path.join(/* turbopackIgnore: true */ process.cwd(), "package.json");
  if (nodeModule) return nodeModule.createRequire(appPackage).resolve(request);
  return path.join(/* turbopackIgnore: true */ process.cwd(), "node_modules", request);
}

/** The wasm binaries ship in the package's dist/; resolved from here so any cwd works. */
function pointWasmAtItsFiles(): void {
  if (wasmPathsSet) return;
  const pkgJson = resolveAtRunTime(`${WASM_PACKAGE}/package.json`);
  setWasmPaths(path.join(path.dirname(pkgJson), "dist") + path.sep);
  wasmPathsSet = true;
}

async function tryWasm(): Promise<Attempt> {
  pointWasmAtItsFiles();
  registerWasmTrainingKernels();
  if (!(await tf.setBackend("wasm"))) return { ok: false, why: "the wasm backend failed to initialise" };
  return { ok: true, threads: getThreadsCount(), simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean };
}

async function tryCpu(): Promise<Attempt> {
  return (await tf.setBackend("cpu")) ? { ok: true } : { ok: false, why: "the cpu backend failed to initialise" };
}

async function attempt(name: BackendName): Promise<Attempt> {
  switch (name) {
    case "tfjs-node-gpu":
      return tryNative("@tensorflow/tfjs-node-gpu", () => whyNoGpu());
    case "tfjs-node":
      return tryNative("@tensorflow/tfjs-node");
    case "wasm":
      return tryWasm();
    case "cpu":
      return tryCpu();
  }
}

function parseForced(value: string | undefined): BackendName | null {
  const v = value?.trim();
  if (!v || v === "auto") return null;
  if ((BACKEND_NAMES as readonly string[]).includes(v)) return v as BackendName;
  throw new Error(`FIXLABEL_TF_BACKEND=${JSON.stringify(value)} is not one of: auto, ${BACKEND_NAMES.join(", ")}`);
}

function describe(name: BackendName, a: Attempt & { ok: true }): string {
  if (name !== "wasm") return name;
  return `wasm (${a.simd ? "SIMD" : "no SIMD"}, ${a.threads} thread${a.threads === 1 ? "" : "s"})`;
}

export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const log = opts.log ?? ((line: string) => console.info(line));
  const forced = opts.force ?? parseForced(process.env.FIXLABEL_TF_BACKEND);
  const skipped: string[] = [];
  for (const name of forced ? [forced] : BACKEND_NAMES) {
    const result = await attempt(name);
    if (!result.ok) {
      if (forced) throw new Error(`tfjs backend ${forced} was requested but cannot be used: ${result.why}`);
      skipped.push(result.why);
      continue;
    }
    const reason = forced
      ? `forced by ${opts.force ? "the caller" : "FIXLABEL_TF_BACKEND"}`
      : skipped.length > 0
        ? skipped.join("; ")
        : "fastest available";
    const choice: BackendChoice = { name, reason };
    if (result.threads !== undefined) choice.threads = result.threads;
    if (result.simd !== undefined) choice.simd = result.simd;
    log(`[ml] tfjs backend: ${describe(name, result)}: ${reason}`);
    return choice;
  }
  throw new Error(`no tfjs backend could be initialised: ${skipped.join("; ")}`);
}
