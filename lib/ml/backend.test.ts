import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import { initBackend, whyNoGpu } from "./backend";
import * as tf from "./tf";

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
  process.env.FIXLABEL_TF_BACKEND = "webgpu";
  await expect(initBackend(quiet)).rejects.toThrow(/"webgpu" is not one of: auto, tfjs-node-gpu, tfjs-node, wasm, cpu/);
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
