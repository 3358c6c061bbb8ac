/**
 * The wasm convolution gradients, old route against new, per conv shape, in the same process:
 * each repeat runs every variant once (interleaved, so a busy shared machine slows both alike),
 * and the figure is the median over repeats, in ms per call.
 *
 *   FIXLABEL_WASM_THREADS=1 npx tsx bench/conv-grads.ts [--repeats 7] [--no-mobilenet]
 *
 * Shapes: every conv of the bench model (bench/throughput.ts's SMALL_RESNET at batch 64) and
 * MobileNetV2's regular convs at 224 px, batch 8 (its stem and a few of its 1x1 convs). Input gradient: the old route
 * (zero-upsampled dy, a stride-1 conv) against the sub-pixel route, for strided convs (stride 1
 * takes the same route as before). Filter gradient: the dilated XNNPACK conv against the kernel's
 * route, which is one GEMM for 1x1 convs and the same dilated conv otherwise (so those rows show
 * the noise floor, ~1.00x). Each new result is checked against the old one before timing.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/ml/backend";
import { conv2DBackpropFilterInfo, conv2DBackpropFilterWasm, dilatedConvFilterGrad, gemmFilterGrad1x1 } from "../lib/ml/kernels/conv2d_backprop_filter";
import { conv2DBackpropInputInfo, conv2DBackpropInputRoute, subPixelInputGrad, upsampledInputGrad } from "../lib/ml/kernels/conv2d_backprop_input";
import { readFloats, type TensorInfo } from "../lib/ml/kernels/wasm_kernel_utils";
import { relativeError } from "../lib/ml/testing";
import * as tf from "../lib/ml/tf";

const { values } = parseArgs({ options: { repeats: { type: "string", default: "8" }, "no-mobilenet": { type: "boolean", default: false } } });
const repeats = Number(values.repeats);
if (!(repeats >= 2)) throw new Error("--repeats must be at least 2");

type Shape = { name: string; x: [number, number, number, number]; k: number; co: number; stride: number; dx: boolean };

const B = 64;
const shapes: Shape[] = [
  { name: "stem 3x3 3->32", x: [B, 32, 32, 3], k: 3, co: 32, stride: 1, dx: false },
  { name: "s1 3x3 32->32 (x2)", x: [B, 32, 32, 32], k: 3, co: 32, stride: 1, dx: true },
  { name: "s2 3x3/2 32->64", x: [B, 32, 32, 32], k: 3, co: 64, stride: 2, dx: true },
  { name: "s2 proj 1x1/2 32->64", x: [B, 32, 32, 32], k: 1, co: 64, stride: 2, dx: true },
  { name: "s2 3x3 64->64", x: [B, 16, 16, 64], k: 3, co: 64, stride: 1, dx: true },
  { name: "s3 3x3/2 64->128", x: [B, 16, 16, 64], k: 3, co: 128, stride: 2, dx: true },
  { name: "s3 proj 1x1/2 64->128", x: [B, 16, 16, 64], k: 1, co: 128, stride: 2, dx: true },
  { name: "s3 3x3 128->128", x: [B, 8, 8, 128], k: 3, co: 128, stride: 1, dx: true },
];
const mobilenet: Shape[] = [
  { name: "MobileNetV2 stem 3x3/2 3->32", x: [8, 224, 224, 3], k: 3, co: 32, stride: 2, dx: true },
  { name: "MobileNetV2 1x1 16->96", x: [8, 112, 112, 16], k: 1, co: 96, stride: 1, dx: true },
  { name: "MobileNetV2 1x1 144->24", x: [8, 56, 56, 144], k: 1, co: 24, stride: 1, dx: true },
  { name: "MobileNetV2 1x1 192->64", x: [8, 14, 14, 192], k: 1, co: 64, stride: 1, dx: true },
  { name: "MobileNetV2 1x1 320->1280", x: [8, 7, 7, 320], k: 1, co: 1280, stride: 1, dx: true },
];

type Variant = { label: string; run: () => TensorInfo };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Times old vs new interleaved; checks new against old first. Returns [old ms, new ms, rel. error]. */
function compare(backend: tf.KernelBackend, old: Variant, candidate: Variant): [number, number, number] {
  const a = old.run();
  const b = candidate.run();
  const err = relativeError(readFloats(backend, b), readFloats(backend, a));
  backend.disposeData(a.dataId);
  backend.disposeData(b.dataId);
  const times: [number[], number[]] = [[], []];
  for (let r = 0; r < repeats; r++) {
    // ABBA order: whichever runs first in a pair pays for the memory the other one just freed.
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    order.forEach((i) => {
      const v = [old, candidate][i];
      const t = performance.now();
      const out = v.run();
      times[i].push(performance.now() - t);
      backend.disposeData(out.dataId);
    });
  }
  return [median(times[0]), median(times[1]), err];
}

function row(label: string, [oldMs, newMs, err]: [number, number, number], route: string): void {
  console.log(`${label.padEnd(40)} ${oldMs.toFixed(1).padStart(8)} ${newMs.toFixed(1).padStart(8)} ${(oldMs / newMs).toFixed(2).padStart(6)}x  ${route} (rel. err ${err.toExponential(1)})`);
}

async function main() {
  const choice = await initBackend({ force: "wasm", log: () => {} });
  const backend = tf.backend();
  const all = values["no-mobilenet"] ? shapes : [...shapes, ...mobilenet];
  const totals = { dx: [0, 0], dw: [0, 0] };
  console.log(`${"conv (batch, input)".padEnd(40)} ${"old ms".padStart(8)} ${"new ms".padStart(8)} ${"speed".padStart(7)}`);
  for (const s of all) {
    const [n, h, w, ci] = s.x;
    const x = tf.randomNormal(s.x);
    const filter = tf.randomNormal([s.k, s.k, ci, s.co]);
    const outShape = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, filter as tf.Tensor4D, s.stride, "same").shape);
    const dy = tf.randomNormal(outShape);
    const label = `${s.name} [${n},${h},${w},${ci}]`;
    if (s.dx && s.stride > 1) {
      const attrs = { strides: [s.stride, s.stride], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, inputShape: s.x } as unknown as tf.Conv2DBackpropInputAttrs;
      const info = conv2DBackpropInputInfo(filter, attrs);
      const route = conv2DBackpropInputRoute(info);
      const pick = (t: TensorInfo | null) => {
        if (!t) throw new Error(`${label}: route does not apply`);
        return t;
      };
      const result = compare(
        backend,
        { label: "upsampled", run: () => pick(upsampledInputGrad(backend, dy, filter, info)) },
        { label: route, run: () => (route === "sub-pixel" ? pick(subPixelInputGrad(backend, dy, filter, info)) : pick(upsampledInputGrad(backend, dy, filter, info))) },
      );
      row(`dx ${label}`, result, `new route: ${route}`);
      if (!s.name.startsWith("MobileNet")) {
        totals.dx[0] += result[0] * (s.name.includes("(x2)") ? 2 : 1);
        totals.dx[1] += result[1] * (s.name.includes("(x2)") ? 2 : 1);
      }
    }
    const filterAttrs = { strides: [s.stride, s.stride], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, filterShape: [s.k, s.k, ci, s.co] } as unknown as tf.NamedAttrMap;
    const filterInfo = conv2DBackpropFilterInfo(x, filterAttrs as unknown as tf.Conv2DBackpropFilterAttrs);
    const gemm = gemmFilterGrad1x1(backend, x, dy, filterInfo);
    if (gemm) backend.disposeData(gemm.dataId);
    const result = compare(
      backend,
      { label: "dilated conv", run: () => dilatedConvFilterGrad(backend, x, dy, filterInfo) },
      { label: "kernel", run: () => conv2DBackpropFilterWasm({ inputs: { x, dy }, backend, attrs: filterAttrs }) },
    );
    row(`dW ${label}`, result, `new route: ${gemm ? "1x1 GEMM" : "dilated conv (unchanged)"}`);
    if (!s.name.startsWith("MobileNet")) {
      totals.dw[0] += result[0] * (s.name.includes("(x2)") ? 2 : 1);
      totals.dw[1] += result[1] * (s.name.includes("(x2)") ? 2 : 1);
    }
    tf.dispose([x, filter, dy]);
  }
  console.log(`bench model, one training step: strided convs' input grads old ${totals.dx[0].toFixed(0)} ms -> new ${totals.dx[1].toFixed(0)} ms; all filter grads old ${totals.dw[0].toFixed(0)} ms -> new ${totals.dw[1].toFixed(0)} ms`);
  console.log(`backend: ${choice.name}${choice.threads !== undefined ? `, ${choice.threads} thread(s)` : ""}; medians of ${repeats} interleaved repeats`);
  console.log(`machine: ${os.cpus()[0]?.model}, ${os.cpus().length} cores, node ${process.version}`);
  console.log(`reproduce: FIXLABEL_WASM_THREADS=${process.env.FIXLABEL_WASM_THREADS ?? ""} npx tsx bench/conv-grads.ts --repeats ${repeats}${values["no-mobilenet"] ? " --no-mobilenet" : ""}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
