/**
 * A frozen backbone's forward pass without its BatchNormalization layers: each one that directly
 * follows a convolution (Conv2D or DepthwiseConv2D, linear activation, channels last, its output
 * read by that BatchNormalization only) is folded into the convolution's kernel and bias:
 *   y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta
 *     = conv'(x) + b'   with   kernel' = kernel * s,  b' = (b - mean) * s + beta,  s = gamma / sqrt(var + eps)
 * (per output channel). Exact in real numbers; in float32 equal to ~1e-6 relative.
 *
 * Why: on wasm (tfjs 4.22) the inference BatchNorm kernel is a scalar loop with a square root and
 * a division per element, one thread: measured on MobileNetV2 at 224 px it took ~45% of the
 * forward pass (tf.profile, 16 views), more than all convolutions together. Folded, those layers
 * cost nothing. Only for inference: the folded layers are new (kernel, bias) weights, and a
 * backbone that trains (fine-tuning) keeps its own BatchNormalization layers.
 *
 * Each folded convolution runs as one tfjs fused kernel with its bias and, when the BatchNormalization
 * is followed by an activation the fused kernel has (ReLU, ReLU(max_value=6), LeakyReLU with its
 * alpha, or an Activation layer "relu" / "relu6"), that activation too: one pass over the output
 * instead of three. Other ReLU(6) layers become one tf.relu6 kernel each (tfjs-layers runs them as two).
 * Used for every forward pass the app makes (infer.ts prediction, the web's single-image predictor,
 * backbone feature extraction); never for training or export, which keep standard Keras layers.
 * Every other layer is a copy (same config, same weights): the original model is left untouched
 * (no new nodes on its layers) and can be disposed apart from the folded one.
 */
import * as tf from "./tf";

type Conv = tf.layers.Layer;

/** An activation tfjs' fused conv kernels apply in place (every backend: cpu, wasm, webgl, webgpu, node). */
type FusedActivation = { kind: "linear" | "relu" | "relu6" } | { kind: "leakyrelu"; alpha: number };
const LINEAR: FusedActivation = { kind: "linear" };

/** The fused activation equal to `layer`, or null when the layer is not one. */
function fusableActivation(layer: Conv): FusedActivation | null {
  const className = layer.getClassName();
  const config = layer.getConfig();
  if (className === "ReLU") {
    const maxValue = config.maxValue as number | null | undefined;
    return maxValue === null || maxValue === undefined ? { kind: "relu" } : maxValue === 6 ? { kind: "relu6" } : null;
  }
  if (className === "LeakyReLU") return { kind: "leakyrelu", alpha: config.alpha as number };
  if (className === "Activation") return config.activation === "relu" ? { kind: "relu" } : config.activation === "relu6" ? { kind: "relu6" } : null;
  return null;
}

/** Models this module made: folding one again returns it as it is (callers may fold what they are given). */
const foldedModels = new WeakSet<tf.LayersModel>();

function isFoldableConv(layer: Conv): boolean {
  const className = layer.getClassName();
  if (className !== "Conv2D" && className !== "DepthwiseConv2D") return false;
  const config = layer.getConfig();
  return (config.activation ?? "linear") === "linear" && (config.dataFormat ?? "channelsLast") === "channelsLast";
}

function isLastAxisBatchNorm(layer: Conv, rank: number): boolean {
  if (layer.getClassName() !== "BatchNormalization") return false;
  const axis = layer.getConfig().axis as number;
  return axis === -1 || axis === rank - 1;
}

/**
 * A convolution (regular or depthwise) with its bias and activation in one tfjs fused kernel:
 * tfjs-layers adds a depthwise convolution's bias in a separate pass and never fuses ReLU6, and on
 * wasm each extra pass over MobileNetV2's activations is a single-threaded loop. Holds its own
 * kernel and bias (made where the model runs) and frees them when disposed. Inference only.
 */
class FusedConvLayer extends tf.layers.Layer {
  static readonly className = "FixLabelFusedConv";
  constructor(
    name: string,
    /** The original layer: its config (strides, padding, dilation) and its output shape. */
    private readonly like: Conv,
    private readonly kernel: tf.Tensor4D,
    private readonly bias: tf.Tensor1D,
    private readonly activation: FusedActivation,
  ) {
    super({ name, trainable: false });
  }
  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return this.like.computeOutputShape(inputShape);
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const config = this.like.getConfig();
    const args = {
      x: (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D,
      filter: this.kernel,
      bias: this.bias,
      strides: config.strides as [number, number],
      pad: config.padding as "same" | "valid",
      dilations: config.dilationRate as [number, number],
      activation: this.activation.kind,
      leakyreluAlpha: this.activation.kind === "leakyrelu" ? this.activation.alpha : undefined,
    };
    return this.like.getClassName() === "DepthwiseConv2D" ? tf.fused.depthwiseConv2d(args) : tf.fused.conv2d(args);
  }
  override dispose(): ReturnType<tf.layers.Layer["dispose"]> {
    const result = super.dispose();
    if (result.refCountAfterDispose === 0) tf.dispose([this.kernel, this.bias]);
    return result;
  }
}

/** The conv layer with the BatchNormalization's statistics folded in (and `activation` fused), applied to `input`. */
function foldedConv(conv: Conv, bn: Conv, activation: FusedActivation, input: tf.SymbolicTensor): tf.SymbolicTensor {
  const cc = conv.getConfig();
  const bc = bn.getConfig();
  const depthwise = conv.getClassName() === "DepthwiseConv2D";
  const [kernel, bias] = tf.tidy(() => {
    const [kernel, bias] = conv.getWeights();
    const bnWeights = bn.getWeights();
    let i = 0;
    const gamma = bc.scale ? bnWeights[i++] : null;
    const beta = bc.center ? bnWeights[i++] : null;
    const [mean, variance] = [bnWeights[i], bnWeights[i + 1]];
    let s = tf.rsqrt(tf.add(variance, bc.epsilon as number));
    if (gamma) s = tf.mul(s, gamma);
    // A depthwise kernel is [kh, kw, in, multiplier]; output channel c * multiplier + m.
    const scaleKernel = depthwise ? tf.reshape(s, kernel.shape.slice(2)) : s;
    const newKernel = tf.mul(kernel, scaleKernel) as tf.Tensor4D;
    let newBias = tf.mul(tf.sub(cc.useBias ? bias : tf.zerosLike(mean), mean), s);
    if (beta) newBias = tf.add(newBias, beta);
    return [newKernel, newBias as tf.Tensor1D] as const;
  });
  return new FusedConvLayer(`${conv.name}_bn_folded`, conv, kernel, bias, activation).apply(input) as tf.SymbolicTensor;
}

/**
 * Keras' ReLU(max_value=6), which tfjs-layers runs as Relu then ClipByValue (two passes over the
 * activations, ~24% of MobileNetV2's folded forward time on wasm; its "relu6" activation is worse,
 * Relu then a broadcast Minimum). tf.relu6 is one kernel. Inference only: never serialized.
 */
class Relu6Layer extends tf.layers.Layer {
  static readonly className = "FixLabelRelu6";
  constructor(name: string) {
    super({ name, trainable: false });
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.relu6(Array.isArray(inputs) ? inputs[0] : inputs);
  }
}

function isRelu6(layer: Conv): boolean {
  return layer.getClassName() === "ReLU" && layer.getConfig().maxValue === 6;
}

/** A new layer of the same class and config, applied to `inputs`, then given the same weights. */
function copyLayer(layer: Conv, inputs: tf.SymbolicTensor[]): tf.SymbolicTensor | tf.SymbolicTensor[] {
  const Layer = layer.constructor as new (config: object) => Conv;
  const copy = new Layer({ ...layer.getConfig(), name: `${layer.name}_copy` });
  const out = copy.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor | tf.SymbolicTensor[];
  const weights = layer.getWeights();
  if (weights.length > 0) copy.setWeights(weights);
  return out;
}

/**
 * `model` with its conv + BatchNormalization pairs folded, as a new model with its own weights
 * (the caller disposes it), or `model` itself when there is nothing to fold (or a layer used at
 * more than one place, which this does not rebuild).
 */
export function foldBatchNorms(model: tf.LayersModel): tf.LayersModel {
  if (foldedModels.has(model)) return model;
  // A layer applied twice within this model: not rebuilt here. (Layers shared with another model,
  // as a composed classifier shares its head's, are fine: only this model's node is read.)
  if (model.layers.some((l) => l.getClassName() !== "InputLayer" && nodesIn(model, l).length !== 1)) return model;
  // A nested model (a fine-tuned backbone, a nested head) is folded on its own; one with nothing to
  // fold would have to be applied again as it is, which would change the original: not rebuilt.
  const nested = new Map<Conv, tf.LayersModel>();
  for (const layer of model.layers) {
    if (!(layer instanceof tf.LayersModel)) continue;
    const inner = foldBatchNorms(layer);
    if (inner === layer) {
      for (const made of nested.values()) made.dispose();
      return model;
    }
    nested.set(layer, inner);
  }
  try {
    return rebuildFolded(model, nested);
  } catch (err) {
    for (const made of nested.values()) made.dispose();
    // Folding only saves time: a layer this cannot copy leaves the model exactly as it was.
    console.warn(`[ml] BatchNormalization not folded in ${model.name}: ${err instanceof Error ? err.message : String(err)}`);
    return model;
  }
}

/** The nodes (applications) of `layer` that belong to `model`'s graph. */
function nodesIn(model: tf.LayersModel, layer: Conv): (typeof layer.inboundNodes)[number][] {
  return layer.inboundNodes.filter((_, i) => model.containerNodes.has(`${layer.name}_ib-${i}`));
}

function rebuildFolded(model: tf.LayersModel, nested: Map<Conv, tf.LayersModel>): tf.LayersModel {
  const layers = model.layers;
  const nodeOf = (layer: Conv) => nodesIn(model, layer)[0];
  // Who reads each symbolic tensor, within this model.
  const readers = new Map<number, Conv[]>();
  for (const layer of layers) {
    if (layer.getClassName() === "InputLayer") continue;
    for (const t of nodeOf(layer).inputTensors) readers.set(t.id, [...(readers.get(t.id) ?? []), layer]);
  }
  const outputIds = new Set(model.outputs.map((t) => t.id));
  /** conv layer name -> the BatchNormalization folded into it, and the activation after that fused too. */
  const pairs = new Map<string, { bn: Conv; relu: Conv | null; activation: FusedActivation }>();
  /** The only reader of a layer's output, when it is not a model output either. */
  const onlyReader = (layer: Conv): Conv | null => {
    const out = nodeOf(layer).outputTensors[0];
    const next = readers.get(out.id) ?? [];
    return next.length === 1 && !outputIds.has(out.id) ? next[0] : null;
  };
  for (const layer of layers) {
    if (!isFoldableConv(layer)) continue;
    const bn = onlyReader(layer);
    if (!bn || !isLastAxisBatchNorm(bn, nodeOf(layer).outputTensors[0].shape.length)) continue;
    const next = onlyReader(bn);
    const activation = next && fusableActivation(next);
    pairs.set(layer.name, activation ? { bn, relu: next, activation } : { bn, relu: null, activation: LINEAR });
  }
  if (pairs.size === 0 && nested.size === 0) return model;
  const folded = new Set([...pairs.values()].flatMap(({ bn, relu }) => (relu ? [bn.name, relu.name] : [bn.name])));

  const mapped = new Map<number, tf.SymbolicTensor>();
  const inputs = model.inputs.map((t) => {
    const input = tf.input({ shape: t.shape.slice(1) as number[], dtype: t.dtype, name: `${t.name.replace(/[^A-Za-z0-9_]/g, "_")}_folded` });
    mapped.set(t.id, input);
    return input;
  });
  for (const layer of layers) {
    if (layer.getClassName() === "InputLayer" || folded.has(layer.name)) continue;
    const node = nodeOf(layer);
    const ins = node.inputTensors.map((t) => {
      const m = mapped.get(t.id);
      if (!m) throw new Error(`foldBatchNorms: layer ${layer.name} reads a tensor not built yet`);
      return m;
    });
    const pair = pairs.get(layer.name);
    if (pair) {
      const out = foldedConv(layer, pair.bn, pair.activation, ins[0]);
      for (const replaced of [layer, pair.bn, ...(pair.relu ? [pair.relu] : [])]) mapped.set(nodeOf(replaced).outputTensors[0].id, out);
      continue;
    }
    const inner = nested.get(layer);
    const result = inner
      ? (inner.apply(ins.length === 1 ? ins[0] : ins) as tf.SymbolicTensor | tf.SymbolicTensor[])
      : isRelu6(layer) ? (new Relu6Layer(`${layer.name}_relu6`).apply(ins[0]) as tf.SymbolicTensor) : copyLayer(layer, ins);
    const outs = Array.isArray(result) ? result : [result];
    node.outputTensors.forEach((t, i) => mapped.set(t.id, outs[i]));
  }
  const result = tf.model({ inputs, outputs: model.outputs.map((t) => mapped.get(t.id)!), name: `${model.name}_bn_folded` });
  foldedModels.add(result);
  return result;
}
