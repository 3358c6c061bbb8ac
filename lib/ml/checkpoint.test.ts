import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { checkpointFile, loadCheckpoint, saveCheckpoint } from "./checkpoint";

it("round-trips state and arrays, and replaces the file whole", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-ckpt-"));
  expect(await loadCheckpoint(dir)).toBeNull();
  const arrays = { model: [Float32Array.from([1, 2.5]), Float32Array.from([-3])], optimizer: [Float32Array.from([0.125])] };
  await saveCheckpoint(dir, { meta: { step: 5, rng: [1, 2, 3, 4] }, arrays });
  await saveCheckpoint(dir, { meta: { step: 6, rng: [1, 2, 3, 5] }, arrays });
  const loaded = await loadCheckpoint<{ step: number }>(dir);
  expect(loaded!.meta).toEqual({ step: 6, rng: [1, 2, 3, 5] });
  expect(loaded!.arrays.model.map((a) => Array.from(a))).toEqual([[1, 2.5], [-3]]);
  expect(Array.from(loaded!.arrays.optimizer[0])).toEqual([0.125]);
  expect(fs.readdirSync(dir)).toEqual([path.basename(checkpointFile(dir))]);
  fs.truncateSync(checkpointFile(dir), fs.statSync(checkpointFile(dir)).size - 4);
  await expect(loadCheckpoint(dir)).rejects.toThrow(/truncated/);
  fs.rmSync(dir, { recursive: true });
});
