/**
 * What a run starts from when the user did not say (no `backbone` in a run request, no --backbone
 * on the command line): ImageNet MobileNetV2 whenever its weights are already on this machine, as
 * the train panel's "Start from" defaults to it; otherwise the preset's model from scratch. Either
 * way the choice comes with its reason, so a run never falls back silently. Only the cached copy
 * counts here (no network call while a run is queued): a backbone named explicitly is downloaded
 * on first use by the worker, the default never is.
 *
 * And how a backbone trains when the mode is not given: frozen (cached features + a head) on CPU
 * backends, fine-tuning on tfjs-node-gpu.
 *
 * No tfjs: the runs API reads this too.
 */
import fs from "node:fs";
import path from "node:path";
import { backboneFolder, describeBackbone, fetchCommand } from "./sources";
import type { BackboneMode, BackboneRef } from "./types";

export const DEFAULT_BACKBONE: BackboneRef = { kind: "mobilenet-v2", alpha: "1.00" };

export type DefaultStartFrom = {
  /** The backbone to start from, or null: the preset's model from scratch. */
  backbone: BackboneRef | null;
  /** Why, in a sentence a user reads in the run or the terminal. */
  reason: string;
};

/**
 * The default start of a run given where backbones are kept (`dataDir`/backbones); `scratchModel`
 * names the model trained from scratch instead, for the reason.
 */
export function defaultStartFrom(dataDir: string, scratchModel = "the preset's model"): DefaultStartFrom {
  const folder = backboneFolder(DEFAULT_BACKBONE, dataDir);
  const name = describeBackbone(DEFAULT_BACKBONE);
  if (fs.existsSync(path.join(folder, "model.json"))) {
    return { backbone: DEFAULT_BACKBONE, reason: `${name} is the default start, and its weights are downloaded (${folder})` };
  }
  return {
    backbone: null,
    reason:
      `${name}, the default start, is not downloaded (no model.json in ${folder}), so this run trains ${scratchModel} from scratch instead. ` +
      `To start from it: ${fetchCommand(DEFAULT_BACKBONE)} on a connected machine and copy the folder there, or ask for it by name and it is downloaded on first use`,
  };
}

/** A backbone's mode when none is given: fine-tuning only on a GPU backend. */
export function defaultBackboneMode(backendName: string): BackboneMode {
  return backendName === "tfjs-node-gpu" ? "finetune" : "frozen";
}
