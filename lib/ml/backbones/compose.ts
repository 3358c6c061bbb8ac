/**
 * One TensorFlow.js layers model from a backbone and a head trained on its features: images in
 * (preprocessed as the backbone says), probabilities out. The model export (model-files.ts) and
 * single-image prediction (image-predictor.ts) use it, so anyone can run a backbone run's model
 * from one model.json, as they run a from-scratch one.
 */
import * as tf from "../tf";
import type { LoadedBackbone } from "./types";

function isChain(head: tf.LayersModel): boolean {
  return head.layers.every((layer) => layer.inboundNodes.length === 1 && layer.inboundNodes[0].inboundLayers.length <= 1);
}

/**
 * backbone cut + pooling -> head -> softmax, sharing the weights of both (dispose the parts, not
 * this wrapper). `head` maps [N, featureDim] to logits. A chain of layers (the usual dense head)
 * is applied layer by layer, so the saved model is flat; any other head is nested as one layer.
 */
export function composeClassifier(backbone: LoadedBackbone, head: tf.LayersModel): tf.LayersModel {
  const headIn = head.inputs[0].shape;
  if (headIn.length !== 2 || headIn[1] !== backbone.featureDim) {
    throw new Error(`the head takes [${headIn}] but the backbone ${backbone.id} gives ${backbone.featureDim} features`);
  }
  let x = backbone.extractor.outputs[0];
  if (isChain(head)) {
    for (const layer of head.layers) {
      if (layer.getClassName() === "InputLayer") continue;
      x = layer.apply(x) as tf.SymbolicTensor;
    }
  } else {
    x = head.apply(x) as tf.SymbolicTensor;
  }
  const probs = tf.layers.activation({ activation: "softmax", name: "probabilities" }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: backbone.extractor.inputs, outputs: probs, name: "fixlabel_classifier" });
}

/** uint8 pixels [N*S*S*C] -> the backbone's input tensor (x * scale + offset). Caller disposes. */
export function backboneInput(pixels: Uint8Array, count: number, backbone: Pick<LoadedBackbone, "preprocessing">): tf.Tensor4D {
  const { inputSize: s, channels, scale, offset } = backbone.preprocessing;
  const values = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) values[i] = pixels[i] * scale + offset;
  return tf.tensor4d(values, [count, s, s, channels]);
}
