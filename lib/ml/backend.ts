/**
 * Picks the TensorFlow.js backend for training and inference, fastest first:
 *   tfjs-node-gpu (installed AND a GPU visible) > tfjs-node > webgpu (forward passes only, when
 *   the `webgpu` package finds a GPU adapter) > wasm (threaded SIMD on every core, + the project's
 *   training kernels, lib/ml/kernels) > cpu (pure JS, ~200x slower than wasm: a last resort).
 * tfjs-node is an optionalDependency: `npm install` brings it where libtensorflow can be
 * downloaded and silently leaves it out elsewhere. tfjs-node-gpu is one extra step
 * (`npm run gpu:install`). Both, and the `webgpu` package, are loaded with a run-time require
 * that neither tsc nor a bundler follows, so a missing or broken one only skips that backend.
 * WebGPU predicts fast but trains ~100x slower than it predicts (STACK.md "GPU facts"), so it is
 * offered only for `purpose: "forward"` (prediction, backbone feature extraction).
 * FIXLABEL_TF_BACKEND (or opts.force) forces one; a forced choice that cannot load is an error.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { registerWasmTrainingKernels } from "./kernels";
import * as tf from "./tf";
import { enableWasmThreads, wantedWasmThreads } from "./wasm_threads";

export const BACKEND_NAMES = ["tfjs-node-gpu", "tfjs-node", "webgpu", "wasm", "cpu"] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** What the backend will run: training (forward + backward) or forward passes only. */
export type BackendPurpose = "train" | "forward";

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
  /** "train" (default) never picks webgpu; "forward" does when a GPU adapter exists. */
  purpose?: BackendPurpose;
  /** wasm threads when the wasm module first loads (default FIXLABEL_WASM_THREADS, else every core). */
  wasmThreads?: number;
  /** Loads an optional package; tests pass one that fails or returns a fake. */
  requireModule?: (id: string) => unknown;
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

let loadModule: (id: string) => unknown = requireHere;

/**
 * Optional packages by name, through a parameter: a literal `require("webgpu")` is followed by
 * the Next.js bundler, which then fails on Dawn's platform-dependent `require(dawnNodePath)`.
 */
const DAWN_PACKAGE = "webgpu";
const WEBGPU_BACKEND_PACKAGE = "@tensorflow/tfjs-backend-webgpu";
function loadOptional(pkg: string): unknown {
  return loadModule(pkg);
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
  if (loadModule !== requireHere) return null; // a test's loader decides by itself
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
    loadModule(pkg);
  } catch (e) {
    return { ok: false, why: isMissingPackage(e, pkg) ? `${pkg} not installed` : `${pkg} failed to load: ${firstLine(e)}` };
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

async function tryWasm(threads: number): Promise<Attempt> {
  pointWasmAtItsFiles();
  registerWasmTrainingKernels();
  // Threads are fixed when the wasm module first loads; a later call only re-selects the backend.
  const restoreCpus = enableWasmThreads(threads);
  const ready = await tf.setBackend("wasm");
  restoreCpus();
  if (!ready) return { ok: false, why: "the wasm backend failed to initialise (FIXLABEL_WASM_THREADS=1 uses the single-threaded binary)" };
  return { ok: true, threads: getThreadsCount(), simd: await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") as boolean };
}

type WebgpuPackage = { create: (options: string[]) => { requestAdapter: () => Promise<unknown> }; globals: Record<string, unknown> };

let webgpuAdapterInfo: string | undefined;

/**
 * Dawn through the `webgpu` package: navigator.gpu must exist BEFORE tfjs-backend-webgpu is first
 * required, since that package registers its backend only if it sees one.
 */
async function tryWebgpu(purpose: BackendPurpose): Promise<Attempt> {
  if (purpose === "train") return { ok: false, why: "webgpu is used for forward passes only (it trains ~100x slower than it predicts)" };
  if (tf.findBackendFactory("webgpu")) {
    return (await tf.setBackend("webgpu")) ? { ok: true } : { ok: false, why: "webgpu failed to initialise" };
  }
  let dawn: WebgpuPackage;
  try {
    dawn = loadOptional(DAWN_PACKAGE) as WebgpuPackage;
  } catch (e) {
    return { ok: false, why: isMissingPackage(e, "webgpu") ? "webgpu (Dawn) not installed" : `webgpu (Dawn) failed to load: ${firstLine(e)}` };
  }
  const g = globalThis as { navigator?: { gpu?: unknown } };
  let gpu: ReturnType<WebgpuPackage["create"]>;
  let adapter: unknown;
  try {
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, why: `webgpu (Dawn) failed: ${firstLine(e)}` };
  }
  if (!adapter) return { ok: false, why: "webgpu: no GPU adapter (Dawn found no Vulkan/Metal/D3D12 GPU)" };
  Object.assign(globalThis, dawn.globals);
  if (!g.navigator) g.navigator = {};
  g.navigator.gpu = gpu;
  try {
    loadOptional(WEBGPU_BACKEND_PACKAGE);
  } catch (e) {
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu failed to load: ${firstLine(e)}` };
  }
  if (!tf.findBackendFactory("webgpu")) {
    return { ok: false, why: `@tensorflow/tfjs-backend-webgpu uses another copy of @tensorflow/tfjs-core: install it at ${tf.version_core}` };
  }
  if (!(await tf.setBackend("webgpu"))) return { ok: false, why: "webgpu failed to initialise" };
  const info = (adapter as { info?: { vendor?: string; architecture?: string; description?: string } }).info;
  webgpuAdapterInfo = [info?.vendor, info?.architecture || info?.description].filter(Boolean).join(" ") || undefined;
  return { ok: true };
}

async function tryCpu(): Promise<Attempt> {
  return (await tf.setBackend("cpu")) ? { ok: true } : { ok: false, why: "the cpu backend failed to initialise" };
}

async function attempt(name: BackendName, purpose: BackendPurpose, wasmThreads: () => number): Promise<Attempt> {
  switch (name) {
    case "webgpu":
      return tryWebgpu(purpose);
    case "tfjs-node-gpu":
      return tryNative("@tensorflow/tfjs-node-gpu", () => whyNoGpu());
    case "tfjs-node":
      return tryNative("@tensorflow/tfjs-node");
    case "wasm":
      return tryWasm(wasmThreads());
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
  if (name === "webgpu") return webgpuAdapterInfo ? `webgpu (${webgpuAdapterInfo})` : name;
  if (name !== "wasm") return name;
  return `wasm (${a.simd ? "SIMD" : "no SIMD"}, ${a.threads} thread${a.threads === 1 ? "" : "s"})`;
}

export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const log = opts.log ?? ((line: string) => console.info(line));
  const forced = opts.force ?? parseForced(process.env.FIXLABEL_TF_BACKEND);
  const purpose = opts.purpose ?? "train";
  loadModule = opts.requireModule ?? requireHere;
  const skipped: string[] = [];
  for (const name of forced ? [forced] : BACKEND_NAMES) {
    const result = await attempt(name, forced === "webgpu" ? "forward" : purpose, () => opts.wasmThreads ?? wantedWasmThreads());
    if (!result.ok) {
      if (forced) throw new Error(`tfjs backend ${forced} was requested but cannot be used: ${result.why}`);
      skipped.push(result.why);
      continue;
    }
    const why = forced
      ? `forced by ${opts.force ? "the caller" : "FIXLABEL_TF_BACKEND"}`
      : skipped.length > 0
        ? skipped.join("; ")
        : "fastest available";
    // The panel shows the reason: wasm's thread count belongs there too.
    const reason = name === "wasm" ? `${describe(name, result).slice("wasm ".length)}; ${why}` : why;
    const choice: BackendChoice = { name, reason };
    if (result.threads !== undefined) choice.threads = result.threads;
    if (result.simd !== undefined) choice.simd = result.simd;
    log(`[ml] tfjs backend${purpose === "forward" ? " for forward passes" : ""}: ${describe(name, result)}: ${why}`);
    return choice;
  }
  throw new Error(`no tfjs backend could be initialised: ${skipped.join("; ")}`);
}

/** The name tfjs registers a backend under: tfjs-node and tfjs-node-gpu both register "tensorflow". */
export function registeredBackendName(name: BackendName): string {
  return name === "tfjs-node" || name === "tfjs-node-gpu" ? NATIVE_BACKEND : name;
}

/** A process that trains and also runs forward passes (the worker) holds one choice for each. */
export type BackendPair = { train: BackendChoice; forward: BackendChoice };

/**
 * Chooses the forward-pass backend, then the training backend (left selected). Both stay
 * registered and initialised, so selectBackend switches between them for the price of a lookup.
 * They differ only where a forward-only backend (webgpu) wins; elsewhere both are the same one.
 */
export async function chooseBackends(opts: Omit<InitBackendOptions, "purpose"> = {}): Promise<BackendPair> {
  const forward = await initBackend({ ...opts, purpose: "forward" });
  const train = await initBackend({ ...opts, purpose: "train" });
  return { train, forward };
}

/**
 * Makes an initialised backend the active one (a no-op when it already is). New tensors are made
 * there; a tensor made on another backend is moved on its first use by a kernel (tfjs reads it
 * from its backend synchronously: wasm/cpu -> webgpu works, but webgpu -> anything does not in
 * Node, where webgpu has no synchronous read; so what a forward-only backend computes is read
 * back with `await tensor.data()`, and models that train never go there).
 */
export async function selectBackend(name: BackendName | string): Promise<void> {
  const registered = (BACKEND_NAMES as readonly string[]).includes(name) ? registeredBackendName(name as BackendName) : name;
  if (tf.getBackend() === registered) return;
  if (!tf.engine().registry[registered]) throw new Error(`tfjs backend ${name} is not initialised: choose it (initBackend) first`);
  if (!(await tf.setBackend(registered))) throw new Error(`tfjs backend ${name} could not be selected again`);
}

/** Runs `fn` with `name` selected, then selects again the backend that was active before. */
export async function withBackend<T>(name: BackendName | string, fn: () => Promise<T> | T): Promise<T> {
  const before = tf.getBackend();
  await selectBackend(name);
  try {
    return await fn();
  } finally {
    await selectBackend(before);
  }
}

function installedVersion(pkg: string): string | null {
  try {
    return (loadModule(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

/**
 * What `npm run train -- --backend-info` prints: the backend for training and the one for forward
 * passes (each with why the faster ones were skipped), and the optional packages found.
 * Leaves the forward-pass backend selected.
 */
export async function backendReport(opts: Pick<InitBackendOptions, "requireModule"> = {}): Promise<string> {
  const quiet = { log: () => {}, requireModule: opts.requireModule };
  const lines = [`tfjs-core ${tf.version_core}`];
  for (const purpose of ["train", "forward"] as const) {
    const choice = await initBackend({ ...quiet, purpose });
    const threads = choice.threads !== undefined ? ` (${choice.simd ? "SIMD, " : ""}${choice.threads} thread${choice.threads === 1 ? "" : "s"})` : "";
    lines.push(`${purpose === "train" ? "training" : "forward passes (prediction, backbone features)"}: ${choice.name}${threads}`);
    lines.push(`  why: ${choice.reason}`);
  }
  loadModule = opts.requireModule ?? requireHere;
  const optional = ["@tensorflow/tfjs-node", "@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-backend-webgpu", "webgpu"];
  lines.push(`optional packages: ${optional.map((p) => `${p} ${installedVersion(p) ?? "not installed"}`).join(", ")}`);
  lines.push("GPU servers: `npm run gpu:install` adds @tensorflow/tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1); FIXLABEL_TF_BACKEND forces one, FIXLABEL_WASM_THREADS sets wasm's threads");
  return lines.join("\n");
}
