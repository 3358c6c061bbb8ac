import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Milliseconds since the epoch; set by SQLite so every writer agrees on the clock. */
const createdAt = () =>
  integer("created_at")
    .notNull()
    .default(sql`(cast(unixepoch('subsecond') * 1000 as integer))`);

export const projects = sqliteTable("projects", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  /** Per-project settings as JSON (lib/db/queries/project-settings.ts), e.g. the augmentation policy; null = defaults. */
  settings: text("settings", { mode: "json" }).$type<unknown>(),
  /** "Accept all above threshold" opens when the audited precision's 95% lower bound reaches this (lib/review/audit.ts). */
  targetPrecision: real("target_precision").notNull().default(0.95),
  createdAt: createdAt(),
});

export const classes = sqliteTable(
  "classes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    color: text("color").notNull(),
    /** One of "1".."9", or null for a class without a key. */
    hotkey: text("hotkey"),
    position: integer("position").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("classes_project_name").on(t.projectId, t.name),
    index("classes_project_position").on(t.projectId, t.position),
  ],
);

export const images = sqliteTable(
  "images",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** Content address of the original bytes in the blob store. */
    sha256: text("sha256").notNull(),
    originalName: text("original_name").notNull(),
    /** Folder of the file inside the upload, zip or server folder it came from ("" at the top). */
    sourcePath: text("source_path").notNull().default(""),
    format: text("format").notNull(),
    /** Size after EXIF orientation is applied. */
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    bytes: integer("bytes").notNull(),
    channels: integer("channels").notNull(),
    thumbStatus: text("thumb_status", { enum: ["pending", "ready", "failed"] }).notNull().default("pending"),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("images_project_sha").on(t.projectId, t.sha256), index("images_project_id").on(t.projectId, t.id)],
);

export const LABEL_SOURCES = ["human", "imported", "accepted_proposal"] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];
/**
 * Sources whose labels are ground truth: a person looked at the image. Only these are held out to
 * measure a model (lib/review/ground-truth.ts); imported and accepted labels are trained on, never
 * judged against. An audit source, when added, goes here in one line.
 */
export const HUMAN_LABEL_SOURCES: readonly LabelSource[] = ["human"];

/**
 * How a label came in, where it matters for trust (lib/review/audit.ts): "audit" = a person's answer
 * while checking a sample of proposals (source human); "gate" = accepted in bulk once the audit met
 * the target precision; "override" = accepted in bulk while the gate was closed, confirmed by a person.
 */
export const LABEL_VIAS = ["audit", "gate", "override"] as const;
export type LabelVia = (typeof LABEL_VIAS)[number];

/** What a user (or the system) did in one go: the unit that undo reverts. */
export const labelActions = sqliteTable(
  "label_actions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** "accept": model proposals accepted in review (lib/review), undone like "set". */
    kind: text("kind", { enum: ["set", "clear", "undo", "import", "class_deleted", "class_merged", "accept"] }).notNull(),
    actor: text("actor").notNull(),
    /** Set when a later "undo" action reverted this one. */
    undoneBy: integer("undone_by"),
    createdAt: createdAt(),
  },
  (t) => [index("label_actions_project").on(t.projectId, t.id)],
);

/** The current label of each labeled image. History lives in labelEvents. */
export const labels = sqliteTable(
  "labels",
  {
    imageId: integer("image_id")
      .primaryKey()
      .references(() => images.id, { onDelete: "cascade" }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    classId: integer("class_id")
      .notNull()
      .references(() => classes.id),
    source: text("source", { enum: LABEL_SOURCES }).notNull(),
    actor: text("actor").notNull(),
    actionId: integer("action_id").references(() => labelActions.id),
    /** For accepted proposals: the model version that proposed the label and its confidence. */
    modelVersion: text("model_version"),
    confidence: real("confidence"),
    via: text("via", { enum: LABEL_VIAS }),
    setAt: createdAt(),
  },
  (t) => [index("labels_project_class").on(t.projectId, t.classId, t.imageId)],
);

/** Every change of every label, oldest first: provenance for exports and the data behind undo. */
export const labelEvents = sqliteTable(
  "label_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    imageId: integer("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    actionId: integer("action_id")
      .notNull()
      .references(() => labelActions.id, { onDelete: "cascade" }),
    /** Label before and after; null means "no label". Class ids are kept even if the class is deleted later. */
    prevClassId: integer("prev_class_id"),
    prevSource: text("prev_source", { enum: LABEL_SOURCES }),
    classId: integer("class_id"),
    source: text("source", { enum: LABEL_SOURCES }),
    actor: text("actor").notNull(),
    modelVersion: text("model_version"),
    confidence: real("confidence"),
    via: text("via", { enum: LABEL_VIAS }),
    createdAt: createdAt(),
  },
  (t) => [index("label_events_image").on(t.imageId, t.id), index("label_events_action").on(t.actionId)],
);

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const jobs = sqliteTable(
  "jobs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    type: text("type").notNull(),
    projectId: integer("project_id").references(() => projects.id, { onDelete: "cascade" }),
    payload: text("payload", { mode: "json" }).notNull().$type<unknown>(),
    status: text("status", { enum: JOB_STATUSES }).notNull().default("queued"),
    priority: integer("priority").notNull().default(0),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(3),
    workerId: text("worker_id"),
    /** A running job whose lease has passed belongs to a dead worker and may be claimed again. */
    leaseUntil: integer("lease_until"),
    progress: real("progress"),
    progressMessage: text("progress_message"),
    result: text("result", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    cancelRequested: integer("cancel_requested", { mode: "boolean" }).notNull().default(false),
    createdAt: createdAt(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
  },
  (t) => [index("jobs_claim").on(t.status, t.priority, t.id), index("jobs_project").on(t.projectId, t.id)],
);

export const TRAINING_MODES = ["fixmatch", "supervised"] as const;
export const TRAINING_STATUSES = ["queued", "running", "succeeded", "failed", "stopped"] as const;
export type TrainingStatus = (typeof TRAINING_STATUSES)[number];

/** One training run of a project; its checkpoint lives in <dataDir>/runs/<id>/. */
export const trainingRuns = sqliteTable(
  "training_runs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** The "train" job running it (the latest one, when it was re-queued). */
    jobId: integer("job_id").references(() => jobs.id, { onDelete: "set null" }),
    mode: text("mode", { enum: TRAINING_MODES }).notNull(),
    status: text("status", { enum: TRAINING_STATUSES }).notNull().default("queued"),
    /** The training config (lib/ml/train.ts TrainConfig, preset name, class-id order). */
    config: text("config", { mode: "json" }).notNull().$type<unknown>(),
    backend: text("backend"),
    backendReason: text("backend_reason"),
    /** Stamped on every prediction the run makes, e.g. "p3-r7". */
    modelVersion: text("model_version").notNull(),
    step: integer("step").notNull().default(0),
    totalSteps: integer("total_steps").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    metrics: text("metrics", { mode: "json" }).$type<unknown>(),
    error: text("error"),
    createdAt: createdAt(),
  },
  (t) => [index("training_runs_project").on(t.projectId, t.id)],
);

/** What a run reported every few steps, for the progress chart. */
export const trainingProgress = sqliteTable(
  "training_progress",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    step: integer("step").notNull(),
    lr: real("lr").notNull(),
    lossSup: real("loss_sup").notNull(),
    lossUnsup: real("loss_unsup"),
    maskRate: real("mask_rate"),
    pseudoAcc: real("pseudo_acc"),
    heldoutAcc: real("heldout_acc"),
    imagesPerS: real("images_per_s").notNull(),
    etaS: real("eta_s").notNull(),
    /** Per-class figures of the logging window (lib/ml/samples.ts PerClassWindow): mask rate by pseudo-label, pseudo-label accuracy by human label. */
    perClass: text("per_class", { mode: "json" }).$type<unknown>(),
    createdAt: createdAt(),
  },
  (t) => [index("training_progress_run").on(t.runId, t.step)],
);

/**
 * A few unlabeled images of one training step as the step saw them ("How it learns"): what the
 * weak view predicted, whether it passed the threshold, how the strong view was made and what the
 * model said about it. The rendered views are small PNGs under <dataDir>/runs/<id>/samples/<step>/;
 * rows hold their file names only.
 */
export const trainingSamples = sqliteTable(
  "training_samples",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    runId: integer("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    step: integer("step").notNull(),
    /** Position in the step's strip (0-based). */
    position: integer("position").notNull(),
    imageId: integer("image_id").notNull(),
    /** JSON AppliedOp[] of the weak and of the strong view (lib/ml/augment). */
    weakOps: text("weak_ops", { mode: "json" }).notNull().$type<unknown>(),
    strongOps: text("strong_ops", { mode: "json" }).notNull().$type<unknown>(),
    weakClassIndex: integer("weak_class_index").notNull(),
    weakConfidence: real("weak_confidence").notNull(),
    /** The threshold this image was held to (per class with FlexMatch). */
    threshold: real("threshold").notNull(),
    maskedIn: integer("masked_in", { mode: "boolean" }).notNull(),
    strongClassIndex: integer("strong_class_index").notNull(),
    strongConfidence: real("strong_confidence").notNull(),
    /** Cross-entropy of the strong view against the pseudo-label (counts in the loss only when masked in). */
    loss: real("loss").notNull(),
    /** File names inside runs/<id>/samples/<step>/. */
    weakPath: text("weak_path").notNull(),
    strongPath: text("strong_path").notNull(),
    createdAt: createdAt(),
  },
  (t) => [index("training_samples_run_step").on(t.runId, t.step, t.position)],
);

/** A run's class probabilities for an image; every row names the model that made it. */
export const predictions = sqliteTable(
  "predictions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    imageId: integer("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    runId: integer("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    modelVersion: text("model_version").notNull(),
    /** Probabilities in the run's class order (its config's classIds). */
    probs: text("probs", { mode: "json" }).notNull().$type<number[]>(),
    topClassId: integer("top_class_id").notNull(),
    confidence: real("confidence").notNull(),
    /** The top class's probability after the run's temperature scaling (lib/ml/calibration.ts); null when the run could not be calibrated. */
    calibratedConfidence: real("calibrated_confidence"),
    createdAt: createdAt(),
  },
  (t) => [
    index("predictions_project_run_confidence").on(t.projectId, t.runId, t.confidence),
    uniqueIndex("predictions_run_image").on(t.runId, t.imageId),
    // A run's proposals per class by confidence (lib/db/queries/review.ts): covers the counts and
    // the ids of a page (the rest of its row is read for the page's images only), and the summary's
    // confidences with their calibrated values (so the calibrated curve needs no row reads either).
    index("predictions_run_class_confidence").on(t.runId, t.topClassId, t.confidence, t.imageId, t.calibratedConfidence),
  ],
);

/**
 * A proposal a person rejected in review: that model version will not propose that class for that
 * image again (a later model may). Kept per class, so the image can still be proposed elsewhere.
 */
export const proposalRejections = sqliteTable(
  "proposal_rejections",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    imageId: integer("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    classId: integer("class_id")
      .notNull()
      .references(() => classes.id, { onDelete: "cascade" }),
    modelVersion: text("model_version").notNull(),
    actor: text("actor").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("proposal_rejections_image_class_model").on(t.imageId, t.classId, t.modelVersion)],
);

/**
 * A suspicious label a person looked at again and kept (lib/review/suspicious.ts): that model
 * version stops flagging it. Keyed by the label's class at the time, so a later relabel that the
 * same model contradicts is flagged afresh; a later model may flag it again too.
 */
export const suspiciousDismissals = sqliteTable(
  "suspicious_dismissals",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    imageId: integer("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    /** The label's class when it was kept (not a foreign key: kept even if the class is deleted). */
    classId: integer("class_id").notNull(),
    modelVersion: text("model_version").notNull(),
    actor: text("actor").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("suspicious_dismissals_image_model_class").on(t.imageId, t.modelVersion, t.classId)],
);

/**
 * A person's answer about one proposal in an audit (lib/review/audit.ts): a random sample of a run's
 * proposals at or above `floor` (the threshold the sample was drawn at), whether the proposed class
 * was right, and the label the person gave. Remembered per run (model version): a new model needs a
 * new audit. The answer counts while its label action is not undone.
 */
export const proposalAudits = sqliteTable(
  "proposal_audits",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    projectId: integer("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    runId: integer("run_id")
      .notNull()
      .references(() => trainingRuns.id, { onDelete: "cascade" }),
    modelVersion: text("model_version").notNull(),
    imageId: integer("image_id")
      .notNull()
      .references(() => images.id, { onDelete: "cascade" }),
    /** The run's top class and confidence for the image (not a foreign key: kept if the class goes). */
    proposedClassId: integer("proposed_class_id").notNull(),
    confidence: real("confidence").notNull(),
    /** The threshold the sample was drawn at: the answer speaks for thresholds >= floor only. */
    floor: real("floor").notNull(),
    answerClassId: integer("answer_class_id").notNull(),
    correct: integer("correct", { mode: "boolean" }).notNull(),
    labelActionId: integer("label_action_id").references(() => labelActions.id, { onDelete: "set null" }),
    actor: text("actor").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("proposal_audits_run_image").on(t.runId, t.imageId), index("proposal_audits_project_run").on(t.projectId, t.runId)],
);

export type Project = typeof projects.$inferSelect;
export type ClassRow = typeof classes.$inferSelect;
export type ImageRow = typeof images.$inferSelect;
export type LabelRow = typeof labels.$inferSelect;
export type LabelEventRow = typeof labelEvents.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;
export type TrainingRunRow = typeof trainingRuns.$inferSelect;
export type TrainingProgressRow = typeof trainingProgress.$inferSelect;
export type PredictionRow = typeof predictions.$inferSelect;
export type TrainingSampleRow = typeof trainingSamples.$inferSelect;
export type ProposalAuditRow = typeof proposalAudits.$inferSelect;
