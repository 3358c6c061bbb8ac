/**
 * The training loop, to be read top to bottom (after nanoGPT's train.py):
 *   config -> model + EMA copy -> optimizer -> resume? -> for each step: lr, batches, one forward
 *   pass, loss, gradients, update, EMA -> every few steps: progress, evaluation, checkpoint.
 * Two modes share everything but the loss: "fixmatch", and "supervised" (labeled images only,
 * weak augmentation), the baseline every FixMatch accuracy claim is measured against.
 *
 * Pseudo-label accuracy is measured on the held-out labeled images as they pass through the
 * unlabeled stream (they are part of the unlabeled pool but never trained on with their labels):
 * of those whose pseudo-label passed the threshold in the last logging window, the share that
 * matches the human label. Null when none passed.
 */
import { DEFAULT_POLICY, strongAugment, weakAugment, weakAugmentApplied, type AugmentPolicy } from "./augment";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint";
import { framesToTensor, LabeledSampler, UnlabeledStream, type LabeledExample, type UnlabeledStreamState } from "./data";
import { readWeights, WeightEma, writeWeights } from "./ema";
import { cosineLr, crossEntropy, FIXMATCH_DEFAULTS } from "./fixmatch";
import { disposeStep, fixmatchStep, type StepResult } from "./fixmatch_step";
import { DistributionAlignment, FlexThresholds, type DistributionAlignmentState, type FlexThresholdsState } from "./fixmatch_extras";
import { predictProbs } from "./infer";
import { Sgd } from "./optim";
import { PerClassWindow, type PerClassFigures } from "./per-class";
import type { TrainCheckpointMeta, TrainConfig } from "./config";
import { buildTrainModel, type BackboneLoadOptions } from "./backbones/finetune";
import { Rng, type RngState } from "./rng";
import { StepSample, type SampleEvent } from "./samples";
import * as tf from "./tf";

// ---- config -------------------------------------------------------------------------------------

/** Frames of one pixel cache: labeled (split into train and held-out) and the unlabeled pool. */
export type TrainData = {
  cache: { size: number; channels: number; pixels: Uint8Array };
  labeled: LabeledExample[];
  heldOut: LabeledExample[];
  /** Frames of the unlabeled pool (every image, labeled ones included). */
  unlabeled: number[];
};

export type TrainProgress = {
  step: number;
  totalSteps: number;
  lr: number;
  lossSup: number;
  lossUnsup: number | null;
  maskRate: number | null;
  pseudoAcc: number | null;
  /** Accuracy of the EMA model on the held-out labels; only on evaluation steps. */
  heldOutAcc: number | null;
  imagesPerS: number;
  etaS: number;
  /** How much of the run is done, 0..1: by steps, or by time when a budget is set and ahead. */
  fraction: number;
  /** FixMatch only: mask rate by pseudo-label class and pseudo-label accuracy by human label (per-class.ts). */
  perClass: PerClassFigures | null;
};

export type TrainOptions = {
  config: TrainConfig;
  data: TrainData;
  /** Where checkpoint.bin lives. An existing checkpoint is resumed, with ITS config: a resumed run is the same run. */
  runDir: string;
  /** Checked before every step (cancel, shutdown); a checkpoint is written before returning. */
  shouldStop?: () => boolean;
  onProgress?: (progress: TrainProgress) => void;
  /**
   * FixMatch only: every `samplesEvery` steps and at the last step, a few unlabeled images of that
   * step as it saw them (samples.ts). Awaited, so what it writes is done before the next step.
   */
  onSamples?: (event: SampleEvent) => void | Promise<void>;
  samplesEvery?: number;
  /**
   * Called once before the first step with the step the run starts from: the checkpoint's step when
   * it resumed, else 0. Whatever an earlier attempt recorded past it will be recorded again.
   */
  onStart?: (fromStep: number) => void;
  /** Fine-tune mode: where the backbone's files are kept, and its download progress. */
  backbone?: BackboneLoadOptions;
  /** Milliseconds, for the time budget and the images/s figures; tests pass a clock they drive. */
  now?: () => number;
};

export type TrainResult = { status: "finished" | "stopped"; step: number; heldOutAcc: number | null };

export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { data, runDir } = opts;
  const shouldStop = opts.shouldStop ?? (() => false);
  const now = opts.now ?? (() => performance.now());
  const resumed = await loadCheckpoint<TrainCheckpointMeta>(runDir);
  const config = resumed?.meta.config ?? opts.config;
  const { mode, batchSize, mu, steps } = config;

  // ---- model, EMA copy, optimizer ---------------------------------------------------------------
  const model = await buildTrainModel(config, opts.backbone);
  const emaModel = await buildTrainModel(config, opts.backbone);
  const ema = new WeightEma(model, emaModel, config.emaDecay);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const optimizer = new Sgd(trainable, config);

  // ---- sampling state: everything random comes from one Rng ------------------------------------
  let rng = new Rng(config.seed);
  const sampler = new LabeledSampler(data.labeled);
  let stream: UnlabeledStream | null = null;
  let alignment: DistributionAlignment | null = null;
  let flex: FlexThresholds | null = null;
  let step = 0;
  let heldOutAcc: number | null = null;
  let elapsedS = 0;
  if (resumed) {
    writeWeights(model, resumed.arrays.model);
    writeWeights(emaModel, resumed.arrays.ema);
    optimizer.loadState(resumed.arrays.optimizer);
    ({ step, heldOutAcc } = resumed.meta);
    elapsedS = resumed.meta.elapsedS ?? 0;
    rng = Rng.fromState(resumed.meta.rng);
  }
  if (mode === "fixmatch") {
    stream = new UnlabeledStream(data.unlabeled.length, rng, resumed?.meta.stream ?? undefined);
    if (config.distributionAlignment) {
      const prior = Array.from({ length: config.numClasses }, (_, c) => data.labeled.filter((e) => e.classIndex === c).length / data.labeled.length);
      alignment = new DistributionAlignment(prior, config.distributionAlignmentMomentum, resumed?.meta.alignment ?? undefined);
    }
    if (config.flexThresholds) {
      flex = new FlexThresholds(config.numClasses, data.unlabeled.length, config.threshold, resumed?.meta.flex ?? undefined);
    }
  }
  opts.onStart?.(step);
  const heldOutClassOfFrame = new Map(data.heldOut.map((e) => [e.frame, e.classIndex]));
  const perClass = new PerClassWindow(config.numClasses);

  const checkpoint = () =>
    saveCheckpoint<TrainCheckpointMeta>(runDir, {
      meta: { step, config, rng: rng.state(), stream: stream?.state() ?? null, alignment: alignment?.state() ?? null, flex: flex?.state() ?? null, heldOutAcc, elapsedS },
      arrays: { model: readWeights(model), ema: readWeights(emaModel), optimizer: optimizer.state() },
    });
  const evaluate = () => {
    if (data.heldOut.length === 0) return null;
    const probs = predictProbs(emaModel, data.cache, data.heldOut.map((e) => e.frame));
    return data.heldOut.filter((e, i) => argmax(probs.subarray(i * config.numClasses, (i + 1) * config.numClasses)) === e.classIndex).length / data.heldOut.length;
  };

  // ---- the loop -------------------------------------------------------------------------------
  let window = { steps: 0, images: 0, lossSup: 0, lossUnsup: 0, maskRate: 0, pseudoSeen: 0, pseudoRight: 0, start: now() };
  try {
    const budgetS = config.timeBudgetS ?? Infinity;
    /** How far along the schedule is: by steps, or by time when a budget is set and ahead. */
    const progressNow = () => Math.min(1, Math.max(step / steps, elapsedS / budgetS));
    while (progressNow() < 1) {
      if (shouldStop()) {
        await checkpoint();
        return { status: "stopped", step, heldOutAcc };
      }
      const stepStart = now();
      const lr = cosineLr(config.lr, progressNow(), 1);

      // Batches: B labeled (weak view); mu*B unlabeled (weak and strong views of the same images).
      const labeled = sampler.next(batchSize, rng);
      const unlabeledPositions = stream ? stream.next(mu * batchSize) : [];
      const unlabeledFrames = unlabeledPositions.map((p) => data.unlabeled[p]);
      const sample = stream && opts.onSamples && ((step + 1) % (opts.samplesEvery ?? config.logEvery) === 0 || step + 1 === steps) ? new StepSample() : null;
      const views = tf.tidy(() => {
        const weakLabeled = weakAugment(framesToTensor(data.cache, labeled.map((e) => e.frame)), rng, config.augment);
        if (!stream) return { labeled: weakLabeled };
        const unlabeledImages = framesToTensor(data.cache, unlabeledFrames);
        const weak = weakAugmentApplied(unlabeledImages, rng, config.augment);
        const strong = strongAugment(unlabeledImages, rng, config.augment);
        sample?.keepViews(weak, strong);
        return { labeled: weakLabeled, weak: weak.images, strong: strong.images };
      });
      const labels = tf.tensor1d(labeled.map((e) => e.classIndex), "int32");
      const thresholds = flex?.tensor();
      const alignmentFactor = alignment?.factor();

      let loss: tf.Scalar;
      let grads: tf.NamedTensorMap;
      let kept: tf.Tensor[] = [];
      let fixmatch: StepResult | null = null;
      if (stream) {
        fixmatch = fixmatchStep(model, trainable, { labeled: views.labeled, labels, weak: views.weak!, strong: views.strong! }, {
          threshold: thresholds ?? config.threshold,
          lambdaU: config.lambdaU,
          alignment: alignmentFactor,
          pseudoLabelFirst: config.pseudoLabelFirst ?? false,
          allStrongViews: sample !== null,
        });
        ({ loss, grads } = fixmatch);
        const { out } = fixmatch;
        sample?.keepOutputs(out, fixmatch.logitsStrong);
        kept = [out.supervised, out.unsupervised, out.maskRate, out.pseudoLabels, out.mask, tf.max(out.weakProbs, -1)];
        if (alignment) kept.push(tf.tidy(() => tf.mean(tf.softmax(fixmatch!.logitsWeak), 0)));
        window.images += fixmatch.imagesForward;
      } else {
        ({ value: loss, grads } = tf.variableGrads(() => tf.mean(crossEntropy(model.apply(views.labeled, { training: true }) as tf.Tensor2D, labels)) as tf.Scalar, trainable));
        window.images += batchSize;
      }
      optimizer.step(grads, lr);
      ema.update();
      step++;

      // Bookkeeping on the CPU: a few numbers per step.
      if (stream) {
        const [sup, unsup, maskRate, pseudo, mask, confidence, meanProbs] = kept.map((t) => t.dataSync());
        window.lossSup += sup[0];
        window.lossUnsup += unsup[0];
        window.maskRate += maskRate[0];
        unlabeledFrames.forEach((frame, i) => {
          const truth = heldOutClassOfFrame.get(frame);
          if (truth === undefined || mask[i] === 0) return;
          window.pseudoSeen++;
          if (pseudo[i] === truth) window.pseudoRight++;
        });
        perClass.add(pseudo, mask, unlabeledFrames.map((frame) => heldOutClassOfFrame.get(frame)));
        if (sample) await opts.onSamples!(sample.capture(step, unlabeledFrames, thresholds?.dataSync() ?? config.threshold));
        flex?.update(unlabeledPositions, pseudo, confidence);
        if (meanProbs) alignment?.update(meanProbs);
      } else {
        window.lossSup += loss.dataSync()[0];
      }
      sample?.dispose();
      tf.dispose([views, labels, loss, grads, thresholds, alignmentFactor, kept[5], kept[6]] as tf.Tensor[]);
      if (fixmatch) disposeStep(fixmatch);
      window.steps++;
      elapsedS += (now() - stepStart) / 1000;
      const last = progressNow() >= 1;

      // Every few steps: evaluate the EMA model, report, checkpoint.
      const evalNow = step % config.evalEvery === 0 || last;
      if (evalNow) heldOutAcc = evaluate();
      if (step % config.logEvery === 0 || evalNow) {
        const seconds = (now() - window.start) / 1000;
        opts.onProgress?.({
          step,
          totalSteps: steps,
          lr,
          lossSup: window.lossSup / window.steps,
          lossUnsup: stream ? window.lossUnsup / window.steps : null,
          maskRate: stream ? window.maskRate / window.steps : null,
          pseudoAcc: window.pseudoSeen > 0 ? window.pseudoRight / window.pseudoSeen : null,
          heldOutAcc: evalNow ? heldOutAcc : null,
          imagesPerS: window.images / seconds,
          etaS: Math.min(((steps - step) * seconds) / window.steps, budgetS - elapsedS),
          fraction: progressNow(),
          perClass: stream ? perClass.take() : null,
        });
        window = { steps: 0, images: 0, lossSup: 0, lossUnsup: 0, maskRate: 0, pseudoSeen: 0, pseudoRight: 0, start: now() };
      }
      if (step % config.checkpointEvery === 0 && !last) await checkpoint();
      // Let timers (heartbeats) and signal handlers run between steps.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await checkpoint();
    return { status: "finished", step, heldOutAcc };
  } finally {
    optimizer.dispose();
    model.dispose();
    emaModel.dispose();
  }
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
