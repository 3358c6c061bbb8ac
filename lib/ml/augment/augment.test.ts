/**
 * Weak and strong views: exact pixels of flip, reflect-padded shift and Cutout on tiny images,
 * reproducibility from the seed, what `applied` reports, policies, and no leaked tensors.
 */
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import { Rng } from "../rng";
import { seededValues } from "../testing";
import * as tf from "../tf";
import {
  applyCutout,
  applyOp,
  DEFAULT_POLICY,
  describeApplied,
  drawCutoutBox,
  FILL_GRAY,
  STRONG_OP_NAMES,
  STRONG_OPS,
  strongAugment,
  weakAugment,
  type AugmentPolicy,
} from "./index";
import { flipShiftSourceMap, gatherPixels, reflectIndex } from "./remap";

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

/** n images of h x w x c with distinct values in [0, 1], reproducible. */
function randomImages(n: number, h: number, w: number, c: number, seed = 1): tf.Tensor4D {
  const values = seededValues(n * h * w * c, seed).map((v) => (v + 1) / 2);
  return tf.tensor4d(values, [n, h, w, c]);
}

/** Takes values out and disposes the tensor. */
function values(t: tf.Tensor): number[] {
  const out = Array.from(t.dataSync());
  t.dispose();
  return out;
}

/** Image b of a flat NHWC array, as rows of pixels (pixels as arrays of channels). */
function imageAt(flat: number[], shape: readonly number[], b: number): number[][][] {
  const [, h, w, c] = shape;
  return Array.from({ length: h }, (_, y) =>
    Array.from({ length: w }, (_, x) => flat.slice(((b * h + y) * w + x) * c, ((b * h + y) * w + x + 1) * c)),
  );
}

/**
 * FixMatch's weak view written the plain way, independent of remap.ts: mirror, pad each side
 * with numpy-style reflect padding, crop at (pad - shiftY, pad - shiftX).
 */
function referenceWeak(image: number[][][], flip: boolean, shiftY: number, shiftX: number, pad: number): number[][][] {
  const h = image.length;
  const w = image[0].length;
  const mirrored = flip ? image.map((row) => [...row].reverse()) : image;
  const padRow = (row: number[][]) => [...row.slice(1, pad + 1).reverse(), ...row, ...row.slice(w - 1 - pad, w - 1).reverse()];
  const wide = mirrored.map(padRow);
  const padded = [...wide.slice(1, pad + 1).reverse(), ...wide, ...wide.slice(h - 1 - pad, h - 1).reverse()];
  const top = pad - shiftY;
  const left = pad - shiftX;
  return padded.slice(top, top + h).map((row) => row.slice(left, left + w));
}

const noStrong: AugmentPolicy = { ...DEFAULT_POLICY, opsPerImage: 0, cutout: 0 };

describe("weak view", () => {
  it("reflects without repeating the edge pixel, like tf.pad REFLECT", () => {
    expect([-3, -2, -1, 0, 1, 2, 3, 4, 5, 6].map((p) => reflectIndex(p, 4))).toEqual([3, 2, 1, 0, 1, 2, 3, 2, 1, 0]);
  });

  it("shifts with reflect padding, pixel for pixel (4x4, content moved right 1 and up 2)", () => {
    const image = tf.tensor4d([...Array(16).keys()], [1, 4, 4, 1]);
    const got = values(gatherPixels(image, flipShiftSourceMap(image.shape, [{ flip: false, shiftX: 1, shiftY: -2 }]), 0));
    image.dispose();
    // rows 2, 3, then 2, 1 reflected; columns 1 reflected, then 0, 1, 2
    expect(got).toEqual([9, 8, 9, 10, 13, 12, 13, 14, 9, 8, 9, 10, 5, 4, 5, 6]);
  });

  it("flips like sharp's flop", async () => {
    const pixels = Uint8Array.from([...Array(4 * 3 * 3).keys()].map((v) => v * 7));
    const flopped = await sharp(pixels, { raw: { width: 4, height: 3, channels: 3 } }).flop().raw().toBuffer();
    const image = tf.tensor4d(Array.from(pixels), [1, 3, 4, 3]);
    const got = values(gatherPixels(image, flipShiftSourceMap(image.shape, [{ flip: true, shiftX: 0, shiftY: 0 }]), 0));
    image.dispose();
    expect(got).toEqual(Array.from(flopped));
  });

  it("every weak view is the input mirrored or not and shifted by at most 12.5% with reflect padding", () => {
    const [n, size, pad] = [24, 8, 1];
    const input = randomImages(n, size, size, 3);
    const inputs = values(input.clone());
    const out = values(weakAugment(input, new Rng(5)));
    const seen = new Set<string>();
    for (let b = 0; b < n; b++) {
      const got = imageAt(out, input.shape, b);
      const match = [false, true]
        .flatMap((flip) => [-1, 0, 1].flatMap((dy) => [-1, 0, 1].map((dx) => ({ flip, dy, dx }))))
        .find(({ flip, dy, dx }) => JSON.stringify(referenceWeak(imageAt(inputs, input.shape, b), flip, dy, dx, pad)) === JSON.stringify(got));
      expect(match, `image ${b}`).toBeDefined();
      seen.add(JSON.stringify(match));
    }
    expect(seen.size, "flips and shifts actually vary").toBeGreaterThan(6);
    input.dispose();
  });

  it("never flips with flip off and is the identity with translate 0 too", () => {
    const input = randomImages(16, 4, 4, 1);
    expect(values(weakAugment(input, new Rng(1), { ...noStrong, flip: false, translate: 0 }))).toEqual(values(input.clone()));
    input.dispose();
  });
});

describe("Cutout", () => {
  it("paints a gray square in every channel and nothing else", () => {
    const input = randomImages(2, 6, 6, 3);
    const before = values(input.clone());
    const boxes = [
      { top: 1, left: 2, bottom: 4, right: 5 },
      { top: 0, left: 0, bottom: 2, right: 1 },
    ];
    const got = values(applyCutout(input, boxes));
    got.forEach((v, i) => {
      const [b, y, x] = [Math.floor(i / 108), Math.floor(i / 18) % 6, Math.floor(i / 3) % 6];
      const { top, left, bottom, right } = boxes[b];
      const inside = y >= top && y < bottom && x >= left && x < right;
      expect(v).toBe(inside ? FILL_GRAY : before[i]);
    });
    input.dispose();
  });

  it("draws a square of half the shorter side, clipped at the edges, always inside the image", () => {
    const rng = new Rng(9);
    let clipped = 0;
    for (let i = 0; i < 500; i++) {
      const { top, left, bottom, right } = drawCutoutBox(8, 10, 0.5, rng);
      expect(top).toBeGreaterThanOrEqual(0);
      expect(left).toBeGreaterThanOrEqual(0);
      expect(bottom).toBeLessThanOrEqual(8);
      expect(right).toBeLessThanOrEqual(10);
      expect(bottom - top).toBeGreaterThan(0);
      expect(bottom - top).toBeLessThanOrEqual(4);
      expect(right - left).toBeLessThanOrEqual(4);
      if (bottom - top < 4 || right - left < 4) clipped++;
      else expect([bottom - top, right - left]).toEqual([4, 4]);
    }
    expect(clipped).toBeGreaterThan(0);
  });
});

describe("strong view", () => {
  it("is the same for the same seed and different for another seed", () => {
    const input = randomImages(8, 8, 8, 3);
    const run = (seed: number) => {
      const { images, applied } = strongAugment(input, new Rng(seed));
      return { pixels: values(images), applied };
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3).pixels).not.toEqual(run(4).pixels);
    input.dispose();
  });

  it("continues identically from a restored Rng state", () => {
    const input = randomImages(4, 8, 8, 3);
    const rng = new Rng(11);
    values(strongAugment(input, rng).images);
    const saved = rng.state();
    const next = strongAugment(input, rng);
    const resumed = strongAugment(input, Rng.fromState(saved));
    expect(values(resumed.images)).toEqual(values(next.images));
    expect(resumed.applied).toEqual(next.applied);
    input.dispose();
  });

  it("reports opsPerImage ops with magnitudes in their ranges, then Cutout, for every image", () => {
    const input = randomImages(32, 8, 8, 3);
    const { images, applied } = strongAugment(input, new Rng(2));
    images.dispose();
    input.dispose();
    const drawn = new Set<string>();
    for (const steps of applied) {
      const ops = steps.filter((s) => (STRONG_OP_NAMES as readonly string[]).includes(s.op));
      expect(ops).toHaveLength(DEFAULT_POLICY.opsPerImage);
      expect(steps.filter((s) => s.op === "Cutout")).toEqual([{ op: "Cutout", magnitude: 0.5 }]);
      expect(steps.at(-1)?.op).toBe("Cutout");
      for (const { op, magnitude } of ops) {
        const { range, integer } = STRONG_OPS[op as keyof typeof STRONG_OPS];
        expect(magnitude).toBeGreaterThanOrEqual(range[0]);
        expect(magnitude).toBeLessThanOrEqual(range[1]);
        if (integer) expect(Number.isInteger(magnitude)).toBe(true);
        drawn.add(op);
      }
    }
    expect(drawn.size, "64 draws from 14 ops reach most of the pool").toBeGreaterThan(9);
  });

  it("draws only the enabled ops and never flips with flip off", () => {
    const input = randomImages(32, 6, 6, 1);
    const policy: AugmentPolicy = { ...DEFAULT_POLICY, flip: false, strongOps: ["Solarize", "Rotate"] };
    const { images, applied } = strongAugment(input, new Rng(8), policy);
    images.dispose();
    input.dispose();
    const ops = new Set(applied.flat().map((s) => s.op));
    expect([...ops].sort()).toEqual(["Cutout", "Rotate", "Solarize", "Translate"]);
  });

  it("is exactly what `applied` says: replaying the steps one by one gives the same pixels", () => {
    const input = randomImages(12, 8, 8, 3);
    const policy: AugmentPolicy = { ...DEFAULT_POLICY, cutout: 0 };
    const { images, applied } = strongAugment(input, new Rng(21), policy);
    const got = values(images);
    const replayed = applied.flatMap((steps, b) =>
      values(
        tf.tidy(() => {
          let x = tf.slice(input, [b, 0, 0, 0], [1, -1, -1, -1]);
          const flip = steps.some((s) => s.op === "Flip");
          const shift = steps.find((s) => s.op === "Translate")?.shift ?? { x: 0, y: 0 };
          x = gatherPixels(x, flipShiftSourceMap(x.shape, [{ flip, shiftX: shift.x, shiftY: shift.y }]), 0);
          for (const s of steps) if (s.op in STRONG_OPS) x = applyOp(s.op as keyof typeof STRONG_OPS, x, [s.magnitude]);
          return x;
        }),
      ),
    );
    expect(got).toEqual(replayed);
    input.dispose();
  });

  it("works on one-channel images and leaks no tensors", () => {
    const input = randomImages(16, 8, 8, 1);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { images } = strongAugment(input, new Rng(i));
      expect(images.shape).toEqual(input.shape);
      images.dispose();
      weakAugment(input, new Rng(i)).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
  });

  it("rejects a policy with unknown ops or an empty pool, and images of 4 channels", () => {
    const input = randomImages(1, 4, 4, 3);
    expect(() => strongAugment(input, new Rng(1), { ...DEFAULT_POLICY, strongOps: [] })).toThrow(/strongOps is empty/);
    expect(() => strongAugment(input, new Rng(1), { ...DEFAULT_POLICY, strongOps: ["Blur" as never] })).toThrow(/unknown strong ops: Blur/);
    input.dispose();
    const rgba = randomImages(1, 4, 4, 4);
    expect(() => weakAugment(rgba, new Rng(1))).toThrow(/1 or 3 channels/);
    rgba.dispose();
  });

  it("describes a view in one line", () => {
    expect(
      describeApplied([
        { op: "Flip", magnitude: 1 },
        { op: "Translate", magnitude: 0.0625, shift: { x: 2, y: -1 } },
        { op: "Solarize", magnitude: 0.6123 },
        { op: "Posterize", magnitude: 5 },
        { op: "Equalize", magnitude: 0 },
        { op: "ShearY", magnitude: -0.0004 },
        { op: "Cutout", magnitude: 0.5 },
      ]),
    ).toBe("Flip, Translate (+2,-1)px, Solarize 0.61, Posterize 5, Equalize, ShearY 0.00, Cutout 0.5");
  });
});
