import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { chooseBackends, initBackend, selectBackend, whyNoGpu, withBackend } from "./backend";
import { registerNoSyncReadBackend, relativeError, seededValues } from "./testing";
import * as tf from "./tf";
import { wantedWasmThreads } from "./wasm_threads";

const quiet = { log: () => {} };
const savedEnv = process.env.FIXLABEL_TF_BACKEND;

afterEach(() => {
  if (savedEnv === undefined) delete process.env.FIXLABEL_TF_BACKEND;
  else process.env.FIXLABEL_TF_BACKEND = savedEnv;
});

function nativeInstalled(pkg: string): boolean {
  return fs.existsSync(path.join(process.cwd(), "node_modules", pkg));
}

it.skipIf(nativeInstalled("@tensorflow/tfjs-node"))(
  "without the native packages it picks wasm with SIMD and says why each faster one was skipped",
  async () => {
    delete process.env.FIXLABEL_TF_BACKEND;
    const lines: string[] = [];
    const choice = await initBackend({ log: (l) => lines.push(l) });
    expect(choice.name).toBe("wasm");
    expect(tf.getBackend()).toBe("wasm");
    expect(choice.simd).toBe(true);
    expect(choice.threads).toBeGreaterThanOrEqual(1);
    expect(choice.reason).toMatch(/@tensorflow\/tfjs-node-gpu not installed|no GPU visible/);
    expect(choice.reason).toContain("@tensorflow/tfjs-node not installed");
    expect(lines).toEqual([expect.stringContaining("tfjs backend: wasm")]);
  },
);

it("FIXLABEL_TF_BACKEND forces a backend", async () => {
  process.env.FIXLABEL_TF_BACKEND = "cpu";
  const choice = await initBackend(quiet);
  expect(choice).toEqual({ name: "cpu", reason: "forced by FIXLABEL_TF_BACKEND" });
  expect(tf.getBackend()).toBe("cpu");
});

it("an invalid FIXLABEL_TF_BACKEND fails with the valid names", async () => {
  process.env.FIXLABEL_TF_BACKEND = "metal";
  await expect(initBackend(quiet)).rejects.toThrow(/"metal" is not one of: auto, tfjs-node-gpu, tfjs-node, webgpu, wasm, cpu/);
});

it.skipIf(nativeInstalled("@tensorflow/tfjs-node"))("a forced backend that is not installed fails clearly", async () => {
  await expect(initBackend({ ...quiet, force: "tfjs-node" })).rejects.toThrow(
    "tfjs backend tfjs-node was requested but cannot be used: @tensorflow/tfjs-node not installed",
  );
});

it("whyNoGpu reads CUDA_VISIBLE_DEVICES and the nvidia device nodes", () => {
  const fakeDev = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-dev-"));
  expect(whyNoGpu({}, fakeDev)).toBe("no GPU visible (no /dev/nvidia* device)");
  fs.writeFileSync(path.join(fakeDev, "nvidia0"), "");
  expect(whyNoGpu({}, fakeDev)).toBeNull();
  expect(whyNoGpu({ CUDA_VISIBLE_DEVICES: "-1" }, fakeDev)).toMatch(/CUDA_VISIBLE_DEVICES/);
  fs.rmSync(fakeDev, { recursive: true });
});

// ---- Every optional package missing or broken, through a stand-in for require ----

function missing(id: string): never {
  throw Object.assign(new Error(`Cannot find module '${id}'\nRequire stack:\n- backend.ts`), { code: "MODULE_NOT_FOUND" });
}

/** A loader where each package either is missing, throws, or runs `load`. */
function loader(packages: Record<string, (() => unknown) | Error>, calls: string[] = []) {
  return (id: string) => {
    calls.push(id);
    const p = packages[id];
    if (p === undefined) return missing(id);
    if (p instanceof Error) throw p;
    return p();
  };
}

/** A fake `webgpu` package whose requestAdapter gives `adapter` (or throws it). */
function fakeDawn(adapter: unknown) {
  return () => ({
    create: () => ({ requestAdapter: async () => { if (adapter instanceof Error) throw adapter; return adapter; } }),
    globals: {},
  });
}

it("with every optional package missing it says so for each and picks wasm with its thread count in the reason", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const choice = await initBackend({ ...quiet, purpose: "forward", requireModule: loader({}) });
  expect(choice.name).toBe("wasm");
  expect(choice.reason).toMatch(/no GPU visible|tfjs-node-gpu not installed/);
  expect(choice.reason).toContain("@tensorflow/tfjs-node not installed");
  expect(choice.reason).toContain("webgpu (Dawn) not installed");
  expect(choice.reason.startsWith(`(SIMD, ${choice.threads} thread`)).toBe(true);
});

it("a tfjs-node whose libtensorflow is broken is skipped with the loader's message", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const broken = new Error("libtensorflow.so.2: cannot open shared object file: No such file or directory");
  const choice = await initBackend({ ...quiet, requireModule: loader({ "@tensorflow/tfjs-node": broken }) });
  expect(choice.name).toBe("wasm");
  expect(choice.reason).toContain("@tensorflow/tfjs-node failed to load: libtensorflow.so.2: cannot open shared object file");
});

it("a tfjs-node built against another tfjs-core copy is refused with the version to install", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const choice = await initBackend({ ...quiet, requireModule: loader({ "@tensorflow/tfjs-node": () => ({}) }) });
  expect(choice.name).toBe("wasm");
  expect(choice.reason).toContain(`@tensorflow/tfjs-node uses another copy of @tensorflow/tfjs-core: install @tensorflow/tfjs-node@${tf.version_core}`);
});

it("a working tfjs-node is picked first on a CPU server (tfjs-node-gpu skipped for want of a GPU or the package)", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  // Stands in for tfjs-node: registers the "tensorflow" backend on OUR tfjs-core, as the real one does.
  const registerNative = () => tf.registerBackend("tensorflow", () => new MathBackendCPU());
  try {
    const choice = await initBackend({ ...quiet, requireModule: loader({ "@tensorflow/tfjs-node": registerNative }) });
    expect(choice.name).toBe("tfjs-node");
    expect(tf.getBackend()).toBe("tensorflow");
    expect(choice.reason).toMatch(/^(no GPU visible|@tensorflow\/tfjs-node-gpu not installed)/);
  } finally {
    await initBackend({ ...quiet, force: "cpu" });
    tf.removeBackend("tensorflow");
  }
});

it("training never loads webgpu, even with an adapter: it is for forward passes only", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const calls: string[] = [];
  const choice = await initBackend({ ...quiet, purpose: "train", requireModule: loader({ webgpu: fakeDawn({ info: {} }) }, calls) });
  expect(choice.name).toBe("wasm");
  expect(choice.reason).toContain("webgpu is used for forward passes only");
  expect(calls).not.toContain("webgpu");
});

it.each([
  ["a broken Dawn addon", { webgpu: new Error("dawn.node: invalid ELF header") }, "webgpu (Dawn) failed to load: dawn.node: invalid ELF header"],
  ["no GPU adapter", { webgpu: fakeDawn(null) }, "webgpu: no GPU adapter (Dawn found no Vulkan/Metal/D3D12 GPU)"],
  ["a failing adapter request", { webgpu: fakeDawn(new Error("Vulkan instance lost")) }, "webgpu (Dawn) failed: Vulkan instance lost"],
  [
    "a broken tfjs-backend-webgpu",
    { webgpu: fakeDawn({ info: {} }), "@tensorflow/tfjs-backend-webgpu": new Error("Unexpected token") },
    "@tensorflow/tfjs-backend-webgpu failed to load: Unexpected token",
  ],
] as const)("for forward passes, webgpu with %s falls back to wasm and says why", async (_, packages, why) => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const navigatorBefore = (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
  const choice = await initBackend({ ...quiet, purpose: "forward", requireModule: loader(packages as Record<string, (() => unknown) | Error>) });
  expect(choice.name).toBe("wasm");
  expect(tf.getBackend()).toBe("wasm");
  expect(choice.reason).toContain(why);
  if (!("@tensorflow/tfjs-backend-webgpu" in packages)) {
    // Without an adapter nothing global was touched.
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBe(navigatorBefore);
  }
});

it("a forced webgpu without an adapter fails clearly", async () => {
  await expect(initBackend({ ...quiet, force: "webgpu", requireModule: loader({ webgpu: fakeDawn(null) }) })).rejects.toThrow(
    "tfjs backend webgpu was requested but cannot be used: webgpu: no GPU adapter",
  );
});

it.skipIf(!nativeInstalled("webgpu") || whyNoGpu() === null || fs.existsSync("/dev/dri"))(
  "the real webgpu package on this GPU-less machine finds no adapter and the chooser falls back to wasm",
  async () => {
    delete process.env.FIXLABEL_TF_BACKEND;
    const choice = await initBackend({ ...quiet, purpose: "forward" });
    expect(choice.name).toBe("wasm");
    expect(choice.reason).toContain("webgpu: no GPU adapter");
  },
);

it("the wasm backend runs on every core unless FIXLABEL_WASM_THREADS says otherwise", async () => {
  expect(wantedWasmThreads({}, 16)).toBe(16);
  expect(wantedWasmThreads({ FIXLABEL_WASM_THREADS: "3" }, 16)).toBe(3);
  expect(() => wantedWasmThreads({ FIXLABEL_WASM_THREADS: "0" }, 16)).toThrow(/FIXLABEL_WASM_THREADS="0" must be a positive integer/);
  const choice = await initBackend({ ...quiet, force: "wasm" });
  expect(choice.threads).toBe(wantedWasmThreads());
});

it("with a GPU adapter, forward passes get webgpu and training keeps wasm; a model made on wasm predicts on webgpu and its weights stay there", async () => {
  delete process.env.FIXLABEL_TF_BACKEND;
  const g = globalThis as { navigator?: { gpu?: unknown } };
  const gpuBefore = g.navigator?.gpu;
  // Stands in for @tensorflow/tfjs-backend-webgpu: registers a "webgpu" backend on OUR tfjs-core.
  const fakeWebgpuPackage = () => registerNoSyncReadBackend("webgpu");
  try {
    const pair = await chooseBackends({ ...quiet, requireModule: loader({ webgpu: fakeDawn({ info: { vendor: "nvidia", architecture: "hopper" } }), "@tensorflow/tfjs-backend-webgpu": fakeWebgpuPackage }) });
    expect(pair.forward).toEqual({ name: "webgpu", reason: expect.stringContaining("@tensorflow/tfjs-node not installed") });
    expect(pair.train.name).toBe("wasm");
    expect(pair.train.reason).toContain("webgpu is used for forward passes only");
    expect(tf.getBackend()).toBe("wasm");

    const input = tf.input({ shape: [4] });
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor });
    const x = tf.tensor2d(seededValues(8, 2), [2, 4]);
    const onWasm = (model.predict(x) as tf.Tensor).dataSync();
    const onGpu = await withBackend("webgpu", async () => {
      expect(tf.getBackend()).toBe("webgpu");
      const y = model.predict(x) as tf.Tensor;
      expect(() => y.dataSync()).toThrow(/no synchronous read/);
      return y.data();
    });
    expect(tf.getBackend()).toBe("wasm");
    expect(relativeError(onGpu, onWasm)).toBeLessThan(1e-6);
    // The pitfall: the weights moved to webgpu at that first use, and in Node they cannot move back.
    expect(() => (model.predict(x) as tf.Tensor).dataSync()).toThrow(/no synchronous read/);
    await selectBackend("webgpu");
    expect(relativeError(await (model.predict(x) as tf.Tensor).data(), onWasm)).toBeLessThan(1e-6);
    await selectBackend(pair.train.name);
    expect(tf.getBackend()).toBe("wasm");
    model.dispose();
  } finally {
    await initBackend({ ...quiet, force: "wasm" });
    tf.removeBackend("webgpu");
    if (g.navigator) g.navigator.gpu = gpuBefore;
  }
});

it("selectBackend refuses a backend that was never chosen", async () => {
  await expect(selectBackend("tfjs-node")).rejects.toThrow("tfjs backend tfjs-node is not initialised: choose it (initBackend) first");
});
