/**
 * What a training run is: its config type and defaults, and what its checkpoint holds. A module of
 * types and constants only, so the loop (train.ts), prediction (infer.ts), presets and the data
 * layer can all read it without importing each other.
 */
import { DEFAULT_POLICY, type AugmentPolicy } from "./augment";
import type { UnlabeledStreamState } from "./data";
import { FIXMATCH_DEFAULTS } from "./fixmatch";
import type { DistributionAlignmentState, FlexThresholdsState } from "./fixmatch_extras";
import type { BackboneMode, BackboneRef } from "./backbones/types";
import type { RngState } from "./rng";

export type ModelSpec = { kind: "resnet"; width: number; blocks: number } | { kind: "wrn"; depth: number; widenFactor: number };

export type TrainMode = "fixmatch" | "supervised";

export type TrainConfig = {
  mode: TrainMode;
  model: ModelSpec;
  /**
   * Start from a pretrained backbone instead of `model` from scratch (absent or null: from
   * scratch, as in configs saved before backbones existed).
   */
  backbone?: BackboneRef | null;
  /** With a backbone: "frozen" (cached view features + a small head, CPU) or "finetune" (GPU). */
  backboneMode?: BackboneMode;
  /** Set from the data: the pixel cache's side and channels, and the number of classes. */
  inputSize: number;
  channels: 1 | 3;
  numClasses: number;
  steps: number;
  /**
   * A wall-clock budget in seconds of training (absent or null: none). The run ends at `steps` or
   * when the budget is spent, whichever comes first, and the cosine schedule follows whichever is
   * further along, so a budgeted run still decays its learning rate to the end. Time spent
   * before a resume counts (it is saved in the checkpoint).
   */
  timeBudgetS?: number | null;
  batchSize: number;
  mu: number;
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  emaDecay: number;
  /** BatchNorm momentum (Keras convention) set on the built model; null keeps the builder's. */
  bnMomentum: number | null;
  threshold: number;
  lambdaU: number;
  /**
   * Weak views first, outside the gradient tape; then forward and backward only the labeled views
   * and the strong views that passed the threshold (fixmatch_step.ts). Same loss; batch norm sees
   * the weak views apart. Off in the paper's setting; absent in configs saved before it existed.
   */
  pseudoLabelFirst?: boolean;
  distributionAlignment: boolean;
  /**
   * How much of distribution alignment's running mean of unlabeled predictions each batch keeps
   * (absent in configs saved before it existed: DistributionAlignment's default, 0.999).
   */
  distributionAlignmentMomentum?: number;
  flexThresholds: boolean;
  augment: AugmentPolicy;
  seed: number;
  logEvery: number;
  evalEvery: number;
  checkpointEvery: number;
};

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  mode: "fixmatch",
  model: { kind: "resnet", width: 16, blocks: 1 },
  inputSize: 32,
  channels: 3,
  numClasses: 10,
  steps: 2 ** 20,
  ...FIXMATCH_DEFAULTS,
  bnMomentum: null,
  pseudoLabelFirst: false,
  distributionAlignment: false,
  distributionAlignmentMomentum: 0.999,
  flexThresholds: false,
  augment: DEFAULT_POLICY,
  seed: 1,
  logEvery: 10,
  evalEvery: 100,
  checkpointEvery: 100,
};

export type TrainCheckpointMeta = {
  step: number;
  config: TrainConfig;
  rng: RngState;
  stream: UnlabeledStreamState | null;
  alignment: DistributionAlignmentState | null;
  flex: FlexThresholdsState | null;
  heldOutAcc: number | null;
  /** Seconds spent training so far (absent in checkpoints saved before it existed). */
  elapsedS?: number;
};
