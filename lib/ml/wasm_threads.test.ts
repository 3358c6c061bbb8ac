import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";

// A fresh process: the threaded build is chosen once, when the wasm module first loads.
const script = `
import { initBackend } from ${JSON.stringify(path.resolve("lib/ml/backend.ts"))};
import * as tf from ${JSON.stringify(path.resolve("lib/ml/tf.ts"))};
const choice = await initBackend({ force: "wasm", log: () => {} });
const x = tf.tensor4d(Array.from({ length: 2 * 9 * 9 * 4 }, (_, i) => Math.sin(i)), [2, 9, 9, 4]);
const w = tf.tensor4d(Array.from({ length: 3 * 3 * 4 * 5 }, (_, i) => Math.cos(i)), [3, 3, 4, 5]);
const onWasm = await tf.conv2d(x, w, 1, "same").data();
await tf.setBackend("cpu");
const onCpu = await tf.conv2d(x, w, 1, "same").data();
const maxDiff = Math.max(...Array.from(onWasm, (v, i) => Math.abs(v - onCpu[i])));
console.log(JSON.stringify({ threads: choice.threads, reason: choice.reason, maxDiff }));
// no process.exit: the run must end by itself although the pthread workers live on
`;

it.skipIf(os.cpus().length < 2)("a script on threaded wasm uses every core, computes what cpu does, and exits by itself", () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-threads-")), "run.mts");
  fs.writeFileSync(file, script);
  const run = spawnSync("npx", ["tsx", file], { encoding: "utf8", timeout: 90_000, env: { ...process.env, FIXLABEL_WASM_THREADS: "" } });
  fs.rmSync(path.dirname(file), { recursive: true });
  expect(run.error, "the process did not exit by itself").toBeUndefined();
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split("\n").pop()!);
  expect(result.threads).toBe(os.cpus().length);
  expect(result.reason).toContain(`${os.cpus().length} threads`);
  expect(result.maxDiff).toBeLessThan(1e-4);
}, 120_000);
