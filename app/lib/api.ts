/**
 * Client-side access to the FixLabel HTTP API: response types (the contract with app/api/**),
 * one fetch helper that turns error bodies into ApiError and sends a 401 to /login,
 * and an XMLHttpRequest upload (fetch cannot report upload progress).
 */
import type { AuditAnswer, Gate } from "@/lib/review/audit";

export type LabelSource = "human" | "imported" | "accepted_proposal";

/** A share measured on human labels: k of n, 95% interval, enough = n >= MIN_EVIDENCE_N (lib/review/evidence.ts). */
export type { Proportion } from "@/lib/review/evidence";
import type { Proportion } from "@/lib/review/evidence";
import type { CalibratedSummary } from "@/lib/review/calibrated-precision";
import type { StoredCalibration } from "@/lib/ml/calibration";

export interface ProjectSummary {
  id: number;
  name: string;
  description: string;
  createdAt: number;
  imageCount: number;
  labeledCount: number;
}

export interface Project {
  id: number;
  name: string;
  description: string;
  createdAt: number;
  /** The precision an audit must show before accept-all opens (lib/review/audit.ts). */
  targetPrecision?: number;
}

export interface ClassDef {
  id: number;
  name: string;
  color: string;
  hotkey: string | null;
  position: number;
}

export interface ImageLabel {
  classId: number;
  source: LabelSource;
}

export interface ImageItem {
  id: number;
  name: string;
  width: number;
  height: number;
  label: ImageLabel | null;
}

export interface ImagePage {
  total: number;
  offset: number;
  items: ImageItem[];
}

export interface Counts {
  total: number;
  unlabeled: number;
  byClass: Record<string, number>;
  bySource: Record<LabelSource, number>;
}

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "cancelled";

export interface ImportJobResult {
  added: number;
  duplicates: number;
  /** The first rejections only (the server caps the list); rejectedCount has them all. */
  rejected: { name: string; reason: string }[];
  rejectedCount?: number;
  labeled: number;
  classesCreated: string[];
  /** Why the import ended early (cancelled, an archive limit), or null. */
  stopped?: string | null;
}

export interface Job {
  id: number;
  type: string;
  status: JobStatus;
  progress: number | null;
  progressMessage: string | null;
  result: ImportJobResult | null;
  error: string | null;
}

export interface UploadResponse {
  added: { id: number; name: string }[];
  duplicates: { name: string; imageId: number }[];
  rejected: { name: string; reason: string }[];
  jobs: { id: number; name: string }[];
  /** Images labeled from their folder names (with labelsFromFolders), and classes that created. */
  labeled?: number;
  classesCreated?: string[];
}

export interface ImageDetail {
  image: { id: number; name: string; width: number; height: number; format: string; bytes: number };
  label: ImageLabel | null;
  history: { classId: number | null; source: LabelSource; actor: string; createdAt: number; prevClassId: number | null; via?: "audit" | "gate" | "override" | null }[];
}

export type ImageFilter = { kind: "all" } | { kind: "unlabeled" } | { kind: "class"; classId: number };

export const IMAGE_PAGE_SIZE = 200;

/** An error the API answered with `{ error: { code, message, ... } }`, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole `error` object, e.g. `field` for a 400 or `labelCount` for a 409. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
  get field(): string | null {
    return typeof this.details.field === "string" ? this.details.field : null;
  }
}

/** Without a valid token every API call fails; the login page is the only way forward. */
function redirectToLogin() {
  if (typeof window === "undefined" || window.location.pathname.startsWith("/login")) return;
  const next = window.location.pathname + window.location.search;
  // A full navigation, not the router: this runs outside React, and it drops all cached state.
  // eslint-disable-next-line @next/next/no-location-assign-relative-destination
  window.location.href = `/login?next=${encodeURIComponent(next)}`;
}

function errorFromBody(status: number, body: unknown, fallback: string): ApiError {
  const err = (body as { error?: Record<string, unknown> } | null)?.error;
  if (err && typeof err === "object") {
    const message = typeof err.message === "string" ? err.message : fallback;
    const code = typeof err.code === "string" ? err.code : "error";
    return new ApiError(status, code, message, err);
  }
  return new ApiError(status, "error", fallback);
}

export async function apiFetch<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const { json, headers, ...rest } = init;
  let res: Response;
  try {
    res = await fetch(path, {
      ...rest,
      headers: json === undefined ? headers : { "content-type": "application/json", ...headers },
      body: json === undefined ? rest.body : JSON.stringify(json),
      credentials: "same-origin",
      // Changes (a label, an undo) jump the browser's queue of thumbnail requests to the same host.
      priority: rest.method && rest.method !== "GET" ? "high" : rest.priority,
    });
  } catch (e) {
    throw new ApiError(0, "network", `network error: ${(e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401) redirectToLogin();
    throw errorFromBody(res.status, body, `${res.status} ${res.statusText || "request failed"}`);
  }
  return body as T;
}

export function imagesQueryString(filter: ImageFilter, offset: number, limit = IMAGE_PAGE_SIZE): string {
  const p = new URLSearchParams({ filter: filter.kind, offset: String(offset), limit: String(limit) });
  if (filter.kind === "class") p.set("classId", String(filter.classId));
  return p.toString();
}

export const thumbUrl = (imageId: number) => `/api/images/${imageId}/thumb`;
export const originalUrl = (imageId: number) => `/api/images/${imageId}/original`;

/** A file with the name it should have on the server: its folder path is what ImageFolder import reads. */
export interface UploadFile {
  file: File;
  relativeName: string;
}

/**
 * Sends one batch as multipart form data with progress events. The `labelsFromFolders` field goes
 * first because the server streams the body and must know the mode before it meets the first file.
 */
export function uploadBatch(
  projectId: number,
  files: UploadFile[],
  labelsFromFolders: boolean,
  onProgress: (fraction: number) => void,
): { promise: Promise<UploadResponse>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<UploadResponse>((resolve, reject) => {
    const fd = new FormData();
    if (labelsFromFolders) fd.append("labelsFromFolders", "1");
    for (const f of files) fd.append("files", f.file, f.relativeName);
    xhr.open("POST", `/api/projects/${projectId}/uploads`);
    xhr.responseType = "text";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && body) {
        onProgress(1);
        resolve(body as UploadResponse);
      } else {
        if (xhr.status === 401) redirectToLogin();
        reject(errorFromBody(xhr.status, body, `upload failed (${xhr.status})`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "network", "upload failed: network error"));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "upload cancelled"));
    xhr.send(fd);
  });
  return { promise, abort: () => xhr.abort() };
}

/** Splits files into request-sized batches; a single file above the byte limit travels alone. */
export function planBatches(files: UploadFile[], maxFiles = 20, maxBytes = 8 * 1024 * 1024): UploadFile[][] {
  const batches: UploadFile[][] = [];
  let current: UploadFile[] = [];
  let bytes = 0;
  for (const f of files) {
    if (current.length > 0 && (current.length >= maxFiles || bytes + f.file.size > maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(f);
    bytes += f.file.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export const formatBytes = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;

// ---------- training runs ----------

export type TrainingMode = "fixmatch" | "supervised";
export type TrainingStatus = "queued" | "running" | "succeeded" | "failed" | "stopped";

/** A training run as app/api/projects/[id]/runs and app/api/runs/[runId] return it (lib/training/runs.ts RunView). */
export interface TrainingRun {
  id: number;
  projectId: number;
  jobId: number | null;
  mode: TrainingMode;
  preset: string | null;
  status: TrainingStatus;
  modelVersion: string;
  step: number;
  totalSteps: number;
  timeBudgetS: number | null;
  fraction: number;
  backend: string | null;
  backendReason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  /** The trainer's held-out accuracy on human labels it did not train on; null with heldOutReason. */
  heldOut: Proportion | null;
  heldOutReason: string | null;
  metrics: { step?: number; heldOutAcc?: number | null; heldOutCorrect?: number | null; heldOutImages?: number; trainLabeled?: number; heldOutBasis?: "human" | "legacy" } | null;
  config: { request?: Record<string, unknown>; train?: Record<string, unknown> } | null;
  error: string | null;
  jobsAhead: number | null;
  /** While running: what the worker is doing now (e.g. "downloading backbone 3.1/14.0 MB"). */
  activity: string | null;
  /** What the run starts from, who chose it (the request, or the default when it named no backbone) and why. */
  startFrom: { backbone: BackboneChoice | null; by: "request" | "default"; reason: string } | null;
}

/** One progress report of a run (a training_progress row). */
export interface TrainingProgressPoint {
  id: number;
  step: number;
  lr: number;
  lossSup: number;
  lossUnsup: number | null;
  maskRate: number | null;
  pseudoAcc: number | null;
  heldoutAcc: number | null;
  imagesPerS: number;
  etaS: number;
  createdAt: number;
}

export interface RunDetail {
  run: TrainingRun;
  progress: TrainingProgressPoint[];
}

export interface StartRunInput {
  mode: TrainingMode;
  preset: string;
  overrides?: {
    steps?: number;
    batchSize?: number;
    mu?: number;
    threshold?: number;
    inputSize?: number;
    model?: string;
    seed?: number;
    lambdaU?: number;
    distributionAlignment?: boolean;
    timeBudgetS?: number;
    flexThresholds?: boolean;
    pseudoLabelFirst?: boolean;
    backbone?: BackboneChoice | null;
    backboneMode?: "frozen" | "finetune";
  };
}

/** A run's pretrained backbone (lib/ml/backbones/types.ts BackboneRef). */
export type BackboneChoice =
  | { kind: "mobilenet-v2"; alpha: "0.35" | "0.50" | "0.75" | "1.00" }
  | { kind: "custom"; source: string; cutLayer: string; preprocessing?: { inputSize: number; channels: 1 | 3; scale: number; offset: number } };

/** GET /api/backbones: whether ImageNet MobileNetV2 can be used now. */
export interface BackboneAvailability {
  mobilenet: { alpha: string; url: string; folder: string; cached: boolean; downloadable: boolean; available: boolean; reason: string | null };
}

/** POST /api/backbones (a zip): the stored upload. */
export interface UploadedBackbone {
  source: string;
  files: string[];
  layers: string[];
  inputShape: (number | null)[] | null;
}

/** "step 120/500", and " · 20m 0s budget" for a run that also stops when its time is spent. */
export function runStepsLabel(run: Pick<TrainingRun, "step" | "totalSteps" | "timeBudgetS">): string {
  return `step ${run.step}/${run.totalSteps}${run.timeBudgetS === null ? "" : ` · ${formatDuration(run.timeBudgetS * 1000)} budget`}`;
}

export const isActiveRun = (r: Pick<TrainingRun, "status"> | undefined) => !!r && (r.status === "queued" || r.status === "running");

/** 75 s -> "1m 15s"; 3 h -> "3h 0m". */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// ---------- review of proposals ----------

/** The run whose predictions are reviewed (lib/review/proposals.ts ReviewRun). */
export interface ReviewRun {
  id: number;
  modelVersion: string;
  /** Which model made the proposals, in words (lib/review/proposals.ts describeProposer). */
  madeBy: string;
}

/** An unlabeled image the run proposes for a class. */
export interface Proposal {
  imageId: number;
  name: string;
  width: number;
  height: number;
  classId: number;
  confidence: number;
  probs?: number[];
}

export interface ProposalPage {
  run: ReviewRun | null;
  total: number;
  offset: number;
  items: Proposal[];
}

export interface PrecisionCount {
  precision: number | null;
  support: number;
  correct: number;
}

/** Precision of proposals on the run's held-out human labels (lib/review/precision.ts). */
export interface PrecisionEstimate extends PrecisionCount {
  threshold: number;
  interval: [number, number] | null;
  byClass: Record<string, PrecisionCount>;
  heldOut: number;
  reason: string | null;
}

export interface ProposalCurvePoint {
  threshold: number;
  passing: number;
  passingByClass: Record<string, number>;
  precision: number | null;
  support: number;
  interval: [number, number] | null;
  byClass: Record<string, PrecisionCount>;
}

/** The run's audit (lib/review/audit.ts): answers to recompute each class's gate as the slider moves, and each class's audited threshold. */
export interface ProposalAudit {
  target: number;
  required: number;
  answers: AuditAnswer[];
  staleModelVersion: string | null;
  classThresholds: Record<string, AuditGate | null>;
}

/** A gate as JSON: Infinity (out of reach) arrives as null. */
export type AuditGate = Omit<Gate, "more"> & { more: number | null };

export interface ProposalSummary {
  run: ReviewRun | null;
  threshold: number;
  total: number;
  byClass: Record<string, number>;
  precision: PrecisionEstimate;
  curve: ProposalCurvePoint[];
  audit: ProposalAudit;
  /** Expected precision from calibrated confidence (lib/review/calibrated-precision.ts); null without a run. */
  calibrated: CalibratedSummary | null;
}

export interface AuditSample {
  run: ReviewRun | null;
  floor: number;
  items: (Proposal & { rank: number })[];
  byClass: Record<string, { size: number; open: number; gate: AuditGate | null }>;
}

export const PROPOSAL_PAGE_SIZE = 200;

export function proposalsQueryString(q: { runId: number; classId: number; minConfidence: number; offset: number; limit?: number }): string {
  return new URLSearchParams({
    runId: String(q.runId),
    classId: String(q.classId),
    minConfidence: String(q.minConfidence),
    offset: String(q.offset),
    limit: String(q.limit ?? PROPOSAL_PAGE_SIZE),
  }).toString();
}

// ---------- label next, suspicious labels, model metrics ----------

export type UncertaintyMeasure = "margin" | "entropy";

/** An unlabeled image worth labeling next (lib/review/next.ts NextPick). */
export interface NextPick {
  imageId: number;
  name: string;
  width: number;
  height: number;
  rank: number;
  uncertainty: number;
  topClassId: number;
  confidence: number;
  runnerUpClassId: number | null;
  runnerUpConfidence: number | null;
}

export interface NextPicks {
  run: ReviewRun | null;
  measure: UncertaintyMeasure;
  diversity: "embeddings" | "probabilities";
  unlabeled: number;
  pool: number;
  items: NextPick[];
}

/** A label the model confidently contradicts (lib/review/suspicious.ts SuspiciousItem). */
export interface SuspiciousItem {
  imageId: number;
  name: string;
  width: number;
  height: number;
  labelClassId: number;
  labelSource: LabelSource;
  suggestedClassId: number;
  confidence: number;
  threshold: number;
  labelProb: number;
  /** Out-of-fold heads, or the run itself (labels it did not train on; older runs). */
  judgedBy?: "out-of-fold" | "model";
}

export interface SuspiciousPage {
  run: ReviewRun | null;
  total: number;
  offset: number;
  thresholds: Record<string, number>;
  method: { outOfFold: boolean; description: string };
  /** Per label class id: accepted proposals, and how many are under suspicion. */
  acceptedByClass: Record<string, { accepted: number; suspicious: number }>;
  items: SuspiciousItem[];
}

export interface ClassMetrics {
  classId: number;
  precision: Proportion;
  recall: Proportion;
  support: number;
  predicted: number;
}

export interface HeldOutMetrics {
  n: number;
  correct: number;
  accuracy: Proportion;
  classIds: number[];
  /** confusion[i][j]: held-out images labeled classIds[i], predicted classIds[j]. */
  confusion: number[][];
  byClass: ClassMetrics[];
}

export type SourceCounts = Record<LabelSource, number> & { unknown: number; total: number };

/** One model version's numbers (lib/review/metrics.ts ModelMetrics). */
export interface ModelMetrics {
  run: {
    id: number;
    projectId: number;
    modelVersion: string;
    mode: string;
    status: string;
    createdAt: number;
    startedAt: number | null;
    finishedAt: number | null;
    trainerHeldOut: Proportion | null;
    trainerHeldOutReason: string | null;
  };
  classIds: number[];
  heldOut: HeldOutMetrics | null;
  heldOutReason: string | null;
  trainedOn: SourceCounts | null;
  heldOutLabels: number | null;
  startedFrom: SourceCounts | null;
  proposals: { accepted: number; rejected: number; acceptanceRate: number | null };
  calibration: StoredCalibration | null;
}

export interface ModelComparison {
  a: ModelMetrics;
  b: ModelMetrics;
  shared: { n: number; accuracyA: Proportion; accuracyB: Proportion };
}

// ---------- model download and prediction ----------

/** GET /api/projects/:id/export/model?dryRun=1 (lib/training/model-export.ts ModelExportStatus). */
export interface ModelExportStatus {
  runId: number;
  modelVersion: string;
  /** The model files exist: the download link works. */
  ready: boolean;
  /** The job writing them (or the last one, when it failed); null when none was needed. */
  job: Job | null;
}

/** POST /api/projects/:id/predict (lib/training/predict.ts PredictResult). */
export interface PredictResult {
  modelVersion: string;
  runId: number;
  /** Every class of the model, most probable first. */
  probs: { classId: number; name: string; p: number }[];
  backend: string;
  backendReason: string;
  timing: { loadMs: number; decodeMs: number; predictMs: number };
}

export const modelDownloadUrl = (projectId: number, runId: number) => `/api/projects/${projectId}/export/model?runId=${runId}`;

// ---------- how it learns ----------

/** GET /api/runs/:runId/samples (lib/training/samples.ts). */
export type { RunSamples, SampleClass, SampleView } from "@/lib/training/samples";
/** training_progress.per_class of FixMatch runs (computed by lib/ml/per-class.ts). */
export type { PerClassFigures } from "@/lib/training/per-class-figures";
/** GET|POST|PUT /api/projects/:id/augment-preview (lib/training/augment-preview.ts). */
export type { AugmentPreview } from "@/lib/training/augment-preview";
export type { AugmentToggles } from "@/lib/db/queries/project-settings";
