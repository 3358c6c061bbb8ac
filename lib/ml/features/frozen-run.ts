/**
 * A frozen-backbone run without the database, in the order a user sees it happen: the app's worker
 * (worker/handlers/train-frozen.ts) and `npm run train` (scripts/train.ts) both call it.
 *   1. plain-view features of every image (cache.ts, cached by image hash + backbone);
 *   2. instant heads: a linear probe and a cosine class mean on the labeled plain features; the
 *      better on held-out labels (the probe on a tie) is handed to `onInstant` with its
 *      probabilities for every image, so proposals exist within seconds of the features;
 *   3. K weak + K strong view features per image (cached by hash + backbone + augmentation key);
 *   4. FixMatch trains a small head on the cached views (head-train.ts);
 *   5. the FixMatch head is kept only when its held-out accuracy beats the instant head's (the
 *      issue's rule: decided on held-out labels, never on a test set), and is returned with the
 *      standardisation folded in: raw backbone features in, logits out, ready to be saved or
 *      composed with the backbone into one model (backbones/compose.ts).
 * The caller owns what is not training: loading the backbone, which images and labels, the
 * held-out split (the app holds out human labels only), progress reporting and where results go.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { AugmentPolicy } from "../augment";
import type { LoadedBackbone } from "../backbones/types";
import type { TrainConfig } from "../config";
import { saveLayersModel } from "../model-files";
import * as tf from "../tf";
import { extractPlainFeatures, extractViewFeatures, FeatureExtractionStopped, type FeatureImage, type FeatureProgress } from "./cache";
import { HEAD_DEFAULTS, trainFixMatchHead, type HeadProgress, type HeadTrainConfig } from "./head-train";
import { classMeanHead, fitStandardizer, foldStandardizer, headAccuracy, headProbs, standardize, trainLinearProbe, type HeadKind, type LabeledRows } from "./heads";

/** Weak and strong views cached per image: the head samples one of each per step. */
export const VIEWS_PER_IMAGE = 4;
/**
 * The views' seed is fixed (not the run's seed), so every run with the same backbone and
 * augmentation reuses the same cached views; the run's seed still drives the head's sampling.
 */
export const VIEWS_SEED = 0;

/** The folder of a saved head inside a run's folder (lib/ml/backbones/head.ts reads it). */
export const HEAD_DIR = "head";

export type InstantKind = Exclude<HeadKind, "fixmatch">;
/** Held-out accuracy of each head tried (null: no held-out labels). */
export type HeldOutByHead = Partial<Record<HeadKind, number | null>>;

/** What <run>/head/head.json says about the saved head. */
export type SavedHeadInfo = {
  headKind: HeadKind;
  backboneId: string;
  featureDim: number;
  numClasses: number;
  heldOutAcc: HeldOutByHead;
  heldOutImages: number;
};

// ---- the head's config ------------------------------------------------------------------------

/** The fields of HEAD_DEFAULTS a user may set (everything else of the head follows the run). */
const HEAD_DEFAULT_KEYS = Object.keys(HEAD_DEFAULTS) as (keyof typeof HEAD_DEFAULTS)[];

/**
 * The fields of the head's config the user chose explicitly in a run request (its steps and its
 * overrides: the panel's advanced settings send only what differs from the preset). Only these
 * win over HEAD_DEFAULTS; the preset's own values do not.
 */
export function explicitHeadFields(request: { steps?: number; overrides?: object } | null | undefined): Partial<HeadTrainConfig> {
  const given: Record<string, unknown> = { ...(request?.overrides ?? {}), ...(request?.steps !== undefined ? { steps: request.steps } : {}) };
  return Object.fromEntries(HEAD_DEFAULT_KEYS.filter((k) => given[k] !== undefined).map((k) => [k, given[k]])) as Partial<HeadTrainConfig>;
}

/**
 * The head's config: HEAD_DEFAULTS replace the image preset's values (a head step is cheap, so the
 * paper's B and mu fit a CPU), except where the user chose explicitly (`explicit`, e.g. from
 * explicitHeadFields): those win. A time budget is the user's; without explicit steps, the step
 * count follows it as in image runs (the larger of the head's steps and the run's).
 */
export function headConfigFor(config: TrainConfig, explicit: Partial<HeadTrainConfig> = {}): HeadTrainConfig {
  return {
    ...config,
    ...HEAD_DEFAULTS,
    ...(config.timeBudgetS ? { steps: Math.max(HEAD_DEFAULTS.steps, config.steps) } : {}),
    ...explicit,
  };
}

// ---- the run ----------------------------------------------------------------------------------

export function describeFeatures(p: FeatureProgress): string {
  const what = p.stage === "plain" ? "features" : `features of ${VIEWS_PER_IMAGE} weak + ${VIEWS_PER_IMAGE} strong views`;
  return `${what} ${p.done}/${p.total} images${p.imagesPerS > 0 ? ` (${p.imagesPerS.toFixed(1)} images/s)` : ""}`;
}

export type InstantHeads = {
  kind: InstantKind;
  heldOutAcc: HeldOutByHead;
  /** Softmax of the chosen instant head for every image (row i = images[i]): [n x numClasses]. */
  probs: Float32Array;
  /** From the start of the run to these probabilities (features included). */
  afterS: number;
  /** Plain features computed per second (0 when all were cached). */
  featuresPerS: number;
};

export type FrozenRunOptions = {
  backbone: LoadedBackbone;
  /** Every image of the pool, in row order: labels and predictions name images by row. */
  images: readonly FeatureImage[];
  /** The feature cache root (e.g. <dataDir>/features). */
  featureDir: string;
  numClasses: number;
  /** Labeled rows that train, and held-out rows that only choose between heads. */
  train: LabeledRows;
  heldOut: LabeledRows;
  /** The augmentation of the cached weak and strong views. */
  augment: AugmentPolicy;
  headConfig: HeadTrainConfig;
  /** The FixMatch head's checkpoint folder: an existing checkpoint is resumed. */
  checkpointDir: string;
  shouldStop?: () => boolean;
  onFeatures?: (p: FeatureProgress) => void;
  /** The instant head's proposals, before the views are computed (the app writes them for review). */
  onInstant?: (instant: InstantHeads) => void | Promise<void>;
  onHeadProgress?: (p: HeadProgress) => void;
};

export type FrozenRunResult =
  | { status: "stopped"; stage: "plain"; step: 0 }
  | { status: "stopped"; stage: "views" | "head"; step: number; instant: InstantHeads; heldOutAcc: HeldOutByHead }
  | {
      status: "finished";
      step: number;
      instant: InstantHeads;
      heldOutAcc: HeldOutByHead;
      headKind: HeadKind;
      /** The chosen head on RAW features (standardisation folded in): [N, dim] -> logits. Caller disposes. */
      head: tf.LayersModel;
      /** The plain features, [n x dim], raw: for predictions and embeddings. */
      plain: Float32Array;
      secondsPer1000Steps: number;
    };

/** The instant head that wins on held-out labels: the class mean only when strictly better. */
export function pickInstant(heldOutAcc: HeldOutByHead): InstantKind {
  return (heldOutAcc["class-mean"] ?? -1) > (heldOutAcc["linear-probe"] ?? -1) ? "class-mean" : "linear-probe";
}

/** The FixMatch head is kept only when it is measured and strictly better than the instant head. */
export function fixmatchWins(heldOutAcc: HeldOutByHead, instant: InstantKind): boolean {
  const fixmatch = heldOutAcc.fixmatch;
  return fixmatch !== undefined && fixmatch !== null && fixmatch > (heldOutAcc[instant] ?? -1);
}

export async function runFrozenBackbone(opts: FrozenRunOptions): Promise<FrozenRunResult> {
  const { backbone, images, numClasses } = opts;
  const dim = backbone.featureDim;
  const started = performance.now();
  if (opts.train.rows.length === 0) throw new Error("no labeled images to train on");

  // ---- 1. plain features -----------------------------------------------------------------------
  let featuresPerS = 0;
  let plain: Float32Array;
  try {
    plain = await extractPlainFeatures({
      backbone,
      images,
      dir: opts.featureDir,
      shouldStop: opts.shouldStop,
      onProgress: (p) => {
        featuresPerS = p.imagesPerS || featuresPerS;
        opts.onFeatures?.(p);
      },
    });
  } catch (err) {
    if (err instanceof FeatureExtractionStopped) return { status: "stopped", stage: "plain", step: 0 };
    throw err;
  }
  const standardizer = fitStandardizer(plain, dim);
  const z = standardize(plain, standardizer);

  // ---- 2. instant heads ------------------------------------------------------------------------
  const probe = trainLinearProbe(z, dim, numClasses, opts.train);
  const classMean = classMeanHead(z, dim, numClasses, opts.train);
  const heldOutAcc: HeldOutByHead = { "linear-probe": headAccuracy(probe, z, dim, opts.heldOut), "class-mean": headAccuracy(classMean, z, dim, opts.heldOut) };
  const instantKind = pickInstant(heldOutAcc);
  const instantHead = instantKind === "class-mean" ? classMean : probe;
  (instantKind === "class-mean" ? probe : classMean).dispose();
  const instant: InstantHeads = { kind: instantKind, heldOutAcc: { ...heldOutAcc }, probs: headProbs(instantHead, z, dim), afterS: (performance.now() - started) / 1000, featuresPerS };
  let instantDisposed = false;
  try {
    await opts.onInstant?.(instant);

    // ---- 3. view features ----------------------------------------------------------------------
    let views;
    try {
      views = await extractViewFeatures({
        backbone,
        images,
        dir: opts.featureDir,
        views: { policy: opts.augment, k: VIEWS_PER_IMAGE, seed: VIEWS_SEED },
        shouldStop: opts.shouldStop,
        onProgress: opts.onFeatures,
      });
    } catch (err) {
      if (err instanceof FeatureExtractionStopped) return { status: "stopped", stage: "views", step: 0, instant, heldOutAcc };
      throw err;
    }

    // ---- 4. FixMatch head ----------------------------------------------------------------------
    const result = await trainFixMatchHead({
      config: opts.headConfig,
      features: { dim, k: views.k, plain: z, weak: standardize(views.weak, standardizer), strong: standardize(views.strong, standardizer) },
      labeled: opts.train,
      heldOut: opts.heldOut,
      unlabeled: images.map((_, row) => row),
      dir: opts.checkpointDir,
      shouldStop: opts.shouldStop,
      onProgress: opts.onHeadProgress,
    });
    heldOutAcc.fixmatch = result.heldOutAcc;
    if (result.status === "stopped") {
      result.head.dispose();
      return { status: "stopped", stage: "head", step: result.step, instant, heldOutAcc };
    }

    // ---- 5. choose on held-out labels ----------------------------------------------------------
    const headKind: HeadKind = fixmatchWins(heldOutAcc, instantKind) ? "fixmatch" : instantKind;
    const chosen = headKind === "fixmatch" ? result.head : instantHead;
    if (headKind === "fixmatch") instantHead.dispose();
    else result.head.dispose();
    instantDisposed = true; // as `chosen` below, or just above
    try {
      const head = foldStandardizer(chosen, standardizer);
      return { status: "finished", step: result.step, instant, heldOutAcc, headKind, head, plain, secondsPer1000Steps: result.secondsPer1000Steps };
    } finally {
      chosen.dispose();
    }
  } finally {
    if (!instantDisposed) instantHead.dispose();
  }
}

/** Writes a head to <dir>/head/ (model.json + shards, head.json) through a temporary folder. */
export async function saveHead(dir: string, head: tf.LayersModel, info: SavedHeadInfo): Promise<void> {
  const dest = path.join(dir, HEAD_DIR);
  const temp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  await saveLayersModel(head, temp);
  await fsp.writeFile(path.join(temp, "head.json"), JSON.stringify(info, null, 2));
  await fsp.rm(dest, { recursive: true, force: true });
  await fsp.rename(temp, dest);
}
