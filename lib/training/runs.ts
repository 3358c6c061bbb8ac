/**
 * Starting, listing and stopping training runs for the web app. The web request only queues a
 * "train" job (the worker trains), so a run never blocks labeling or review.
 *
 * Rules kept here, in one place:
 *   - one training run per project at a time (a second start is a 409 naming the active run);
 *   - a run needs at least 2 classes and at least one labeled image in every class (400), because
 *     the worker trains one output per class of the project;
 *   - a run whose job ended without finishing it (its worker died on the last attempt) is shown
 *     as failed, so it cannot block the project forever.
 */
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { getProject } from "@/lib/db/queries/projects";
import { countJobsAhead, countLabelsPerClass, findActiveRun, getRunWithJob, listProgressSince, listRunsWithJobs, type RunWithJob } from "@/lib/db/queries/runs";
import { createRun, updateRun, type RunOverrides, type RunRequest } from "@/lib/db/queries/training";
import { TRAINING_MODES, type TrainingRunRow, type TrainingStatus } from "@/lib/db/schema";
import { badRequest, conflict } from "@/lib/errors";
import { enqueueJob, getJob, requestJobCancel } from "@/lib/jobs";
import { getEnv } from "@/lib/env";
import { defaultStartFrom } from "@/lib/ml/backbones/default-choice";
import { describeBackbone } from "@/lib/ml/backbones/sources";
import type { RunStartFrom } from "@/lib/db/queries/training";
import { BACKBONE_MODES, backboneRefInput, checkBackboneRef } from "./backbones";
import { MODEL_CHOICES, modelChoice, presetInfo, TRAINING_PRESET_NAMES } from "./presets";
import { trainerHeldOutAccuracy, type Proportion } from "@/lib/review/ground-truth";

// ---- input --------------------------------------------------------------------------------------

const MODEL_NAMES = MODEL_CHOICES.map((m) => m.name) as [string, ...string[]];

/** Ranges wide enough for a GPU server, narrow enough to catch a typo (strict: unknown keys are a 400). */
export const runOverridesInput = z
  .object({
    steps: z.number().int().min(1).max(2 ** 21).optional(),
    batchSize: z.number().int().min(1).max(512).optional(),
    mu: z.number().int().min(1).max(16).optional(),
    threshold: z.number().min(0.5).max(0.999).optional(),
    inputSize: z.number().int().min(8).max(256).optional(),
    model: z.enum(MODEL_NAMES).optional(),
    lambdaU: z.number().min(0).max(10).optional(),
    distributionAlignment: z.boolean().optional(),
    /** Decay of the weights' moving average (the model that predicts). */
    emaDecay: z.number().min(0).max(0.9999).optional(),
    /** Seconds of training, 10 s to a week. */
    timeBudgetS: z.number().int().min(10).max(7 * 24 * 3600).optional(),
    flexThresholds: z.boolean().optional(),
    pseudoLabelFirst: z.boolean().optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
    /** A pretrained backbone (null or absent: the model from scratch). */
    backbone: backboneRefInput.nullable().optional(),
    /** With a backbone: "frozen" (cached features + a head, CPU) or "finetune" (GPU server). */
    backboneMode: z.enum(BACKBONE_MODES).optional(),
  })
  .strict()
  .refine((o) => o.backboneMode === undefined || o.backbone, { message: "backboneMode needs a backbone", path: ["backboneMode"] });

export const startRunInput = z.object({
  mode: z.enum(TRAINING_MODES).default("fixmatch"),
  preset: z.enum(TRAINING_PRESET_NAMES),
  overrides: runOverridesInput.optional(),
});
export type StartRunInput = z.input<typeof startRunInput>;

/** The request the worker resolves (preset, then overrides, steps, seed): the model goes by name here, as a ModelSpec there. */
function toRunRequest(input: z.output<typeof startRunInput>): RunRequest {
  const { steps, seed, model, ...rest } = input.overrides ?? {};
  const overrides: RunOverrides = { ...rest, ...(model !== undefined ? { model: { ...modelChoice(model)!.spec } } : {}) };
  return {
    mode: input.mode,
    preset: input.preset,
    ...(steps !== undefined ? { steps } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(Object.keys(overrides).length > 0 ? { overrides } : {}),
  };
}

// ---- the view the API returns -------------------------------------------------------------------

export type RunView = {
  id: number;
  projectId: number;
  jobId: number | null;
  mode: "fixmatch" | "supervised";
  preset: string | null;
  status: TrainingStatus;
  modelVersion: string;
  step: number;
  totalSteps: number;
  /** The run's wall-clock budget for training in seconds, or null: it trains totalSteps. */
  timeBudgetS: number | null;
  /** How much of the run is done, 0..1: by steps, or by time when the budget is ahead. */
  fraction: number;
  backend: string | null;
  backendReason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** From the first start to the end (or now, while active); includes time spent waiting for a resume. */
  durationMs: number | null;
  /** The trainer's held-out accuracy on human labels it did not train on (n, interval); null with a reason otherwise. */
  heldOut: Proportion | null;
  heldOutReason: string | null;
  metrics: unknown;
  config: unknown;
  error: string | null;
  /** For a queued run: how many jobs the worker takes before this one. */
  jobsAhead: number | null;
  /** While running: what the worker is doing now ("downloading backbone 3.1/14.0 MB", "decoding images"). */
  activity: string | null;
  /** What the run starts from (a backbone or from scratch), who chose it and why; null for runs started before this was recorded. */
  startFrom: RunStartFrom | null;
};

const isActiveStatus = (s: TrainingStatus) => s === "queued" || s === "running";

/** The run's status as the user should see it, given its job (see the header). */
function effectiveStatus(row: RunWithJob): { status: TrainingStatus; error: string | null } {
  if (!isActiveStatus(row.status) || row.jobStatus === "queued" || row.jobStatus === "running") return { status: row.status, error: row.error };
  if (row.jobStatus === "cancelled") return { status: "stopped", error: row.error };
  return { status: "failed", error: row.error ?? row.jobError ?? "its job ended before the run finished" };
}

export function toRunView(db: Db, row: RunWithJob, now = Date.now()): RunView {
  const { status, error } = effectiveStatus(row);
  const end = row.finishedAt ?? (isActiveStatus(status) ? now : null);
  const config = row.config as { request?: { preset?: string; overrides?: { timeBudgetS?: number }; startFrom?: RunStartFrom }; train?: { timeBudgetS?: number | null } } | null;
  const trainer = trainerHeldOutAccuracy(row.metrics);
  return {
    id: row.id,
    projectId: row.projectId,
    jobId: row.jobId,
    mode: row.mode,
    preset: config?.request?.preset ?? null,
    status,
    modelVersion: row.modelVersion,
    step: row.step,
    totalSteps: row.totalSteps,
    timeBudgetS: config?.train?.timeBudgetS ?? config?.request?.overrides?.timeBudgetS ?? null,
    // The worker reports the job's fraction (time-aware); the run row only knows steps.
    fraction: status === "succeeded" ? 1 : Math.min(1, Math.max(row.jobProgress ?? 0, row.step / Math.max(1, row.totalSteps))),
    backend: row.backend,
    backendReason: row.backendReason,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
    durationMs: row.startedAt !== null && end !== null ? Math.max(0, end - row.startedAt) : null,
    heldOut: trainer.accuracy,
    heldOutReason: trainer.reason,
    metrics: row.metrics,
    config: row.config,
    error,
    jobsAhead: status === "queued" && row.jobId !== null ? countJobsAhead(db, row.jobId) : null,
    activity: status === "running" ? row.jobMessage : null,
    startFrom: config?.request?.startFrom ?? null,
  };
}

// ---- rules --------------------------------------------------------------------------------------

export type TrainingBlocker = { reason: "active_run"; runId: number; message: string } | { reason: "labels"; message: string };

/** Why the project cannot start a run now, or null when it can. */
export function findTrainingBlocker(db: Db, projectId: number): TrainingBlocker | null {
  const active = findActiveRun(db, projectId);
  if (active) {
    return {
      reason: "active_run",
      runId: active.id,
      message: `run ${active.id} (${active.modelVersion}) is ${active.status}: a project trains one run at a time; stop it or wait for it to finish`,
    };
  }
  const perClass = countLabelsPerClass(db, projectId);
  if (perClass.length < 2) return { reason: "labels", message: `training needs at least 2 classes; this project has ${perClass.length}` };
  const withLabels = perClass.filter((c) => c.labeled > 0);
  if (withLabels.length < 2) {
    return { reason: "labels", message: `training needs labeled images in at least 2 classes; ${withLabels.length} of ${perClass.length} have any` };
  }
  const missing = perClass.filter((c) => c.labeled === 0).map((c) => `"${c.name}"`);
  if (missing.length > 0) {
    const named = missing.length > 3 ? `${missing.slice(0, 3).join(", ")} and ${missing.length - 3} more` : missing.join(", ");
    return { reason: "labels", message: `every class needs at least one labeled image; ${named} ${missing.length === 1 ? "has" : "have"} none` };
  }
  return null;
}

// ---- actions ------------------------------------------------------------------------------------

/**
 * Creates a run and queues the "train" job for it, in one transaction. `totalSteps` is what the UI
 * shows until the worker resolves the config (and stores the real total).
 */
export function queueTrainingRun(db: Db, projectId: number, request: RunRequest, totalSteps: number): TrainingRunRow {
  return db.transaction(() => {
    const run = createRun(db, { projectId, mode: request.mode, config: { request }, totalSteps });
    const job = enqueueJob(db, "train", { projectId, runId: run.id });
    return updateRun(db, run.id, { jobId: job.id });
  });
}

/**
 * Checks the rules and queues the run and its "train" job in one IMMEDIATE transaction, so two
 * requests cannot both pass the check. `startFrom` (from startTrainingRunChecked) is kept in the
 * run's request.
 */
export function startTrainingRun(db: Db, projectId: number, input: StartRunInput, startFrom?: RunStartFrom) {
  getProject(db, projectId);
  const data = startRunInput.parse(input);
  return db.transaction(
    () => {
      const blocker = findTrainingBlocker(db, projectId);
      if (blocker?.reason === "active_run") throw conflict(blocker.message, { runId: blocker.runId });
      if (blocker) throw badRequest(blocker.message, { field: "labels" });
      const request: RunRequest = { ...toRunRequest(data), ...(startFrom ? { startFrom } : {}) };
      const totalSteps = request.steps ?? presetInfo(data.preset)!.defaults.steps;
      const run = queueTrainingRun(db, projectId, request, totalSteps);
      const job = getJob(db, run.jobId!);
      return { run: toRunView(db, getRunWithJob(db, run.id)), job };
    },
    { behavior: "immediate" },
  );
}

/**
 * What a run request starts from. No `backbone` key: the default, ImageNet MobileNetV2 when its
 * weights are downloaded, else the preset's model from scratch (lib/ml/backbones/default-choice.ts),
 * with the reason recorded either way; `backbone: null`: from scratch, as asked.
 */
export function resolveStartFrom(data: z.output<typeof startRunInput>, dataDir: string): RunStartFrom {
  const asked = data.overrides?.backbone;
  if (asked === null) return { backbone: null, by: "request", reason: "from scratch, as the request asked (backbone: null)" };
  if (asked !== undefined) return { backbone: asked, by: "request", reason: `${describeBackbone(asked)}, as the request asked` };
  const model = modelChoice(data.overrides?.model ?? presetInfo(data.preset)!.defaults.model);
  const start = defaultStartFrom(dataDir, model ? `the ${model.label}` : undefined);
  return { backbone: start.backbone, by: "default", reason: start.reason };
}

/**
 * startTrainingRun after what needs the file system: the default start (resolveStartFrom) and the
 * checks of a named backbone (a folder must lie inside FIXLABEL_IMPORT_ROOT, an uploaded backbone
 * must exist). What the runs API calls; startTrainingRun alone trains from scratch unless asked.
 */
export async function startTrainingRunChecked(db: Db, projectId: number, input: StartRunInput) {
  const data = startRunInput.parse(input);
  const startFrom = resolveStartFrom(data, getEnv().dataDir);
  const backbone = await checkBackboneRef(startFrom.backbone);
  // A run with a backbone and no mode is frozen: the mode that works on any machine.
  const backboneMode = backbone ? (data.overrides?.backboneMode ?? "frozen") : undefined;
  const overrides = { ...data.overrides, backbone: backbone ?? null, ...(backboneMode ? { backboneMode } : {}) };
  return startTrainingRun(db, projectId, { ...data, overrides }, { ...startFrom, backbone: backbone ?? null });
}

export function listProjectRuns(db: Db, projectId: number) {
  getProject(db, projectId);
  const now = Date.now();
  return {
    runs: listRunsWithJobs(db, projectId).map((row) => toRunView(db, row, now)),
    /** Why the Train button is disabled, or null. */
    blocker: findTrainingBlocker(db, projectId)?.message ?? null,
  };
}

export function getRunDetail(db: Db, runId: number, sinceStep: number | null = null) {
  return { run: toRunView(db, getRunWithJob(db, runId)), progress: listProgressSince(db, runId, sinceStep) };
}

/**
 * Asks the run's job to stop. A running job stops at its next check (the worker then marks the run
 * "stopped", keeping its last checkpoint); a queued job is cancelled at once and never reaches the
 * worker, so the run is marked "stopped" here.
 */
export function stopTrainingRun(db: Db, runId: number) {
  return db.transaction(
    () => {
      const row = getRunWithJob(db, runId);
      const { status } = effectiveStatus(row);
      if (!isActiveStatus(status) || row.jobId === null) throw conflict(`run ${runId} is ${status}; only a queued or running run can be stopped`);
      const job = requestJobCancel(db, row.jobId);
      if (job.status === "cancelled") updateRun(db, runId, { status: "stopped", finishedAt: Date.now() });
      return { run: toRunView(db, getRunWithJob(db, runId)), job };
    },
    { behavior: "immediate" },
  );
}
