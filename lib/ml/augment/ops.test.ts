/**
 * Each strong op at fixed magnitudes against Pillow's output on the same tiny images
 * (pil_reference.json, written by pil_reference.py), plus hand-checked cases.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../backend";
import * as tf from "../tf";
import { applyOp, FILL_GRAY, STRONG_OP_NAMES, STRONG_OPS, type StrongOpName } from "./ops";
import reference from "./pil_reference.json";

type Pixels = { height: number; width: number; channels: number; levels: (number | null)[] };
type Case = Pixels & { image: keyof typeof reference.images; op: string; magnitude: number };

/**
 * How far (in levels of 255) we may be from Pillow. Ops defined on levels and geometric ops must
 * match exactly. PIL's blends truncate to uint8 after rounding their degenerate image to uint8
 * too, while we stay in float: up to about one level from each, hence 2.
 */
const LEVEL_TOLERANCE: Record<StrongOpName, number> = {
  AutoContrast: 1,
  Brightness: 1,
  Color: 2,
  Contrast: 2,
  Equalize: 0,
  Identity: 0,
  Posterize: 0,
  Rotate: 0,
  Sharpness: 2,
  ShearX: 0,
  ShearY: 0,
  Solarize: 0,
  TranslateX: 0,
  TranslateY: 0,
};

beforeAll(async () => {
  await initBackend({ force: "cpu", log: () => {} });
});

function toTensor(p: Pixels): tf.Tensor4D {
  return tf.tensor4d(
    p.levels.map((v) => (v ?? 0) / 255),
    [1, p.height, p.width, p.channels],
  );
}

function run(op: StrongOpName, images: tf.Tensor4D, magnitudes: number[]): Float32Array {
  const out = applyOp(op, images, magnitudes);
  expect(out.shape).toEqual(images.shape);
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

describe("strong ops match Pillow", () => {
  const cases = (reference.cases as Case[]).map((c) => [`${c.op} ${c.magnitude} on ${c.image}`, c] as const);
  it.each(cases)("%s", (_name, c) => {
    const op = c.op as StrongOpName;
    const input = toTensor(reference.images[c.image]);
    const got = run(op, input, [c.magnitude]);
    input.dispose();
    let worst = 0;
    c.levels.forEach((expected, i) => {
      if (expected === null) {
        expect(got[i], `pixel ${i} is uncovered: fill gray`).toBe(FILL_GRAY);
      } else {
        worst = Math.max(worst, Math.abs(got[i] * 255 - expected));
      }
    });
    expect(worst).toBeLessThanOrEqual(LEVEL_TOLERANCE[op] + 1e-3);
  });
});

describe("strong ops by hand", () => {
  // 1 x 3 x 3 x 1, values 1..9 / 10.
  const square = () => tf.tensor4d([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], [1, 3, 3, 1]);

  it("Rotate 90 turns a square counter-clockwise (right column becomes top row)", () => {
    const x = square();
    expect(Array.from(run("Rotate", x, [90]))).toEqual(Array.from(new Float32Array([0.3, 0.6, 0.9, 0.2, 0.5, 0.8, 0.1, 0.4, 0.7])));
    x.dispose();
  });

  it("TranslateX 1/3 samples one column to the right: content moves left, gray comes in", () => {
    const x = square();
    expect(Array.from(run("TranslateX", x, [1 / 3]))).toEqual(Array.from(new Float32Array([0.2, 0.3, 0.5, 0.5, 0.6, 0.5, 0.8, 0.9, 0.5])));
    x.dispose();
  });

  it("Solarize 0.5 inverts 0.5 and above only", () => {
    const x = square();
    const expected = [0.1, 0.2, 0.3, 0.4, 0.5, 0.4, 0.3, 0.2, 0.1];
    run("Solarize", x, [0.5]).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    x.dispose();
  });

  it("Color leaves a one-channel image as it is", () => {
    const x = square();
    expect(Array.from(run("Color", x, [0.2]))).toEqual(Array.from(x.dataSync()));
    x.dispose();
  });

  it("each image of a batch gets its own magnitude", () => {
    const x = tf.tidy(() => tf.concat([square(), square()]) as tf.Tensor4D);
    const got = run("Brightness", x, [0.5, 1.5]);
    expect(got[4]).toBeCloseTo(0.25, 6);
    expect(got[9 + 4]).toBeCloseTo(0.75, 6);
    expect(got[9 + 8]).toBe(1); // 1.35 clipped
    x.dispose();
  });

  it("every op keeps values in [0, 1] at both ends of its range, on 1 and 3 channels, without leaking", () => {
    for (const channels of [1, 3]) {
      const x = tf.tidy(() => tf.randomUniform([2, 6, 6, channels], 0, 1, "float32", 5) as tf.Tensor4D);
      const before = tf.memory().numTensors;
      for (const name of STRONG_OP_NAMES) {
        const [low, high] = STRONG_OPS[name].range;
        const out = applyOp(name, x, [low, high]);
        const values = out.dataSync();
        tf.dispose(out);
        const [min, max] = [Math.min(...values), Math.max(...values)];
        expect(min, name).toBeGreaterThanOrEqual(0);
        expect(max, name).toBeLessThanOrEqual(1);
      }
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });

  it("rejects a magnitude list that does not match the batch", () => {
    const x = square();
    expect(() => applyOp("Rotate", x, [1, 2])).toThrow(/2 magnitudes for a batch of 1/);
    x.dispose();
  });
});
