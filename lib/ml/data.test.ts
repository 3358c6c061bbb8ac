import { beforeAll, expect, it } from "vitest";
import { initBackend } from "./backend";
import { framesToTensor, LabeledSampler, splitHeldOut, stableUnit, UnlabeledStream, type LabeledExample } from "./data";
import { Rng } from "./rng";

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

function examples(countsPerClass: number[]): LabeledExample[] {
  let id = 1;
  return countsPerClass.flatMap((n, classIndex) => Array.from({ length: n }, () => ({ imageId: id, frame: id++ - 1, classIndex })));
}

it("holds out ~20% per class, at least one from 2 labels, never a class's only label", () => {
  const { train, heldOut } = splitHeldOut(examples([1, 2, 10, 3]));
  const held = (c: number) => heldOut.filter((e) => e.classIndex === c).length;
  expect([held(0), held(1), held(2), held(3)]).toEqual([0, 1, 2, 1]);
  expect(train.length + heldOut.length).toBe(16);
  // Stable: the same ids give the same split whatever the input order.
  const again = splitHeldOut([...examples([1, 2, 10, 3])].reverse());
  expect(again.heldOut.map((e) => e.imageId).sort()).toEqual(heldOut.map((e) => e.imageId).sort());
  expect(stableUnit(5)).toBe(stableUnit(5));
});

it("labeled batches are class-balanced however skewed the labels", () => {
  const sampler = new LabeledSampler(examples([50, 3, 7]));
  const rng = new Rng(1);
  const counts = [0, 0, 0];
  for (let b = 0; b < 200; b++) for (const ex of sampler.next(16, rng)) counts[ex.classIndex]++;
  // 3200 draws: each class gets 1/3, within one slot per batch.
  for (const c of counts) expect(Math.abs(c - 3200 / 3)).toBeLessThan(200);
  // Within a batch of 15 (a multiple of 3) each class appears exactly 5 times.
  const batch = sampler.next(15, rng);
  expect([0, 1, 2].map((c) => batch.filter((e) => e.classIndex === c).length)).toEqual([5, 5, 5]);
});

it("the unlabeled stream shows every image once per epoch, and resumes from its state", () => {
  const rng = new Rng(7);
  const stream = new UnlabeledStream(10, rng);
  const epoch1 = stream.next(10);
  expect([...epoch1].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  const epoch2 = stream.next(10);
  expect([...epoch2].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  expect(epoch2).not.toEqual(epoch1);

  const saved = { stream: stream.state(), rng: rng.state() };
  const more = stream.next(13);
  const resumed = new UnlabeledStream(10, Rng.fromState(saved.rng), saved.stream);
  expect(resumed.next(13)).toEqual(more);
});

it("is deterministic for a seed", () => {
  const run = (seed: number) => {
    const rng = new Rng(seed);
    const sampler = new LabeledSampler(examples([4, 4]));
    const stream = new UnlabeledStream(8, rng);
    return [sampler.next(6, rng).map((e) => e.imageId), stream.next(12)];
  };
  expect(run(3)).toEqual(run(3));
  expect(run(3)).not.toEqual(run(4));
});

it("turns uint8 frames into [0, 1] float tensors", () => {
  const cache = { size: 1, channels: 3, pixels: Uint8Array.from([0, 51, 255, 255, 0, 102]) };
  const t = framesToTensor(cache, [1, 0]);
  expect(t.shape).toEqual([2, 1, 1, 3]);
  expect(Array.from(t.dataSync())).toEqual([1, 0, 0.4, 0, 0.2, 1].map((v) => Math.fround(v)));
  t.dispose();
});
