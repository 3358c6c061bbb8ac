/**
 * The tfjs backends of this worker process, chosen once (lib/ml/backend.ts picks them and says why):
 * one for training steps and one for forward passes (prediction, backbone features). They differ
 * only where a forward-only backend wins (webgpu, which predicts fast but trains ~100x slower);
 * elsewhere both are the same backend and switching is a no-op.
 *
 * Every handler that runs tensors selects the one it needs when it starts (a job may follow one
 * that left the other selected): training, export and the augmentation preview use the training
 * backend; an image model's predict job uses the forward backend for the whole job (its model is
 * loaded there, and read back with `data()`); a frozen-backbone run keeps the training backend
 * selected and runs only the backbone on the forward one (its weights are made there, and
 * lib/ml/features switches for each forward pass: see LoadedBackbone.forwardBackend).
 */
import { chooseBackends, registeredBackendName, selectBackend, withBackend, type BackendChoice, type BackendPair } from "@/lib/ml/backend";
import type { LoadedBackbone } from "@/lib/ml/backbones/types";

let chosen: Promise<BackendPair> | null = null;

export function workerBackends(): Promise<BackendPair> {
  chosen ??= chooseBackends();
  return chosen;
}

/** Selects the training backend and returns its choice. */
export async function selectTrainingBackend(): Promise<BackendChoice> {
  const { train } = await workerBackends();
  await selectBackend(train.name);
  return train;
}

/** Selects the forward-pass backend and returns its choice. */
export async function selectForwardBackend(): Promise<BackendChoice> {
  const { forward } = await workerBackends();
  await selectBackend(forward.name);
  return forward;
}

/** The training backend, selected: what every handler called before there were two. */
export const ensureBackend = selectTrainingBackend;

/**
 * Loads a backbone with its weights made on the forward backend (nothing to move at its first
 * forward pass) and marks it to run its forward passes there; the backend active before is
 * selected again afterwards.
 */
export async function loadForForwardPasses(load: () => Promise<LoadedBackbone>): Promise<LoadedBackbone> {
  const { forward } = await workerBackends();
  const backbone = await withBackend(forward.name, load);
  return { ...backbone, forwardBackend: registeredBackendName(forward.name) };
}

/**
 * What a run records as its backend (the run card shows both fields). A frozen-backbone run names
 * both backends when they differ: the backbone's features on one, the head's training on the other.
 */
export function runBackendFields(pair: BackendPair, frozenBackbone: boolean): { backend: string; backendReason: string } {
  const { train, forward } = pair;
  if (!frozenBackbone || forward.name === train.name) return { backend: train.name, backendReason: train.reason };
  return {
    backend: `${forward.name} + ${train.name}`,
    backendReason: `backbone features on ${forward.name} (${forward.reason}); the head trains on ${train.name} (${train.reason})`,
  };
}
