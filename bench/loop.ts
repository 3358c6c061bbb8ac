/**
 * The labeling loop, end to end, with a simulated reviewer: correct labels gained per human action.
 *
 *   npx tsx bench/loop.ts [--dataset cifar10-small|fashion-mnist] [--pool 2000] [--steps 600]
 *                         [--threshold 0.95] [--target 0.95] [--turns 2] [--seed 1] [--preset quick-cpu]
 *   npx tsx bench/loop.ts --help
 *
 * In process, no web server: a fresh temporary data folder and project (classes = the dataset's),
 * a pool of `--pool` training images imported through ingestFile under neutral names and WITHOUT
 * labels (the true labels stay in this script; the app learns them only through the simulated
 * person's actions), then 4 images per class labeled as a person would (setHumanLabels, 40 clicks).
 * Each turn: a FixMatch run is queued like the Train button does (startTrainingRun, preset +
 * --steps), the worker's JobRunner runs its "train" job and the "predict" job it queues, and the
 * reviewer works through the review page at threshold τ (--threshold).
 *
 * The simulated reviewer (it knows the true label of every image it looks at) uses the review
 * page's audit gate (lib/review/audit.ts), never its override:
 *   for each class with at least one open proposal at or above τ, it presses "Check a sample" and
 *   answers every sampled proposal truthfully (1 action per answer: A or the right class; each
 *   answer is a human label), drawing more while the gate says "audit k more" (at most 3 draws).
 *   Then, if the gate at τ is open, "Accept all above τ" (1 action); else, if the audit shows the
 *   target at a higher threshold (the class's audited threshold), "Accept all" there (1 action);
 *   else the class is left for the next model. A class with nothing above τ costs nothing.
 * So accepted proposals are only those the gate let through (they may be wrong: the audit bounds
 * their share, it does not check each), and "correct labels per action" = (right accepted +
 * audit answers, which are right human labels) / (audit answers + accept clicks). Next to it: the
 * audited precision per class with its 95% interval, and whether it holds the real precision of
 * that class's proposals at τ (which the bench knows). Seconds spent looking are not counted.
 *
 * The next turn trains on the larger labeled set (human + accepted labels). Data sources:
 * ../shared/datasets/cifar10-small/train/<class>/*.jpg (32x32), or Debian's dataset-fashion-mnist
 * (/usr/share/datasets/fashion-mnist, written out as 28x28 gray PNGs first).
 *
 * Time: quick-cpu (pseudo-label first) trains Fashion-MNIST at 32 px at ~1.25 steps/s on one core
 * of this 2-core machine (measured: 600 steps in 463 s and 492 s, another benchmark on the other
 * core), so the default 600 steps x 2 turns is ~16 min of training plus ~1 min of import and
 * prediction of the 2,000-image pool.
 * Everything it writes is deleted at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import zlib from "node:zlib";
import sharp from "sharp";
import { closeDb, getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { listClasses } from "@/lib/db/queries/classes";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject } from "@/lib/db/queries/projects";
import { listOpenProposalConfidences } from "@/lib/db/queries/review";
import { updateProject } from "@/lib/db/queries/projects";
import { getRun } from "@/lib/db/queries/training";
import { ingestFile, ImportBatch } from "@/lib/dataset/ingest";
import { resetEnvCache } from "@/lib/env";
import { Rng } from "@/lib/ml/rng";
import { PRESETS, type PresetName } from "@/lib/ml/presets";
import { acceptProposals, answerAudit, auditSample, estimatePrecision, proposalGate, proposalSummary } from "@/lib/review/proposals";
import { startTrainingRun } from "@/lib/training/runs";
import { handlers } from "../worker/handlers";
import { ensureBackend } from "../worker/backend";
import { datasetDir } from "./datasets";
import { JobRunner } from "../worker/runner";

const LABELS_PER_CLASS = 4;
const FASHION_CLASSES = ["t-shirt-top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"];

const { values } = parseArgs({
  options: {
    help: { type: "boolean", default: false },
    target: { type: "string", default: "0.95" },
    dataset: { type: "string", default: "cifar10-small" },
    data: { type: "string" },
    pool: { type: "string", default: "2000" },
    steps: { type: "string", default: "600" },
    threshold: { type: "string", default: "0.95" },
    turns: { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
    preset: { type: "string", default: "quick-cpu" },
  },
});
if (values.help) {
  console.log(`npx tsx bench/loop.ts [flags]
  --dataset cifar10-small|fashion-mnist   (default cifar10-small)
  --pool N         unlabeled images imported (default 2000, at least 40)
  --steps N        training steps per run (default 600)
  --threshold t    the review slider's threshold τ (default 0.95)
  --target p       the project's target precision that opens accept-all (default 0.95; 73 audit answers per class)
  --turns N        train + review turns (default 2)
  --seed N         (default 1)
  --preset name    training preset (default quick-cpu)
A tiny check: npx tsx bench/loop.ts --dataset fashion-mnist --pool 200 --steps 20 --turns 1 --threshold 0.5 --target 0.7`);
  process.exit(0);
}
const poolSize = Number(values.pool);
const target = Number(values.target);
const steps = Number(values.steps);
const threshold = Number(values.threshold);
const turns = Number(values.turns);
const seed = Number(values.seed);
const preset = values.preset as PresetName;
if (values.dataset !== "cifar10-small" && values.dataset !== "fashion-mnist") throw new Error("--dataset must be cifar10-small or fashion-mnist");
if (!Number.isInteger(poolSize) || poolSize < 10 * LABELS_PER_CLASS) throw new Error(`--pool must be an integer >= ${10 * LABELS_PER_CLASS}`);
if (!Number.isInteger(steps) || steps < 1) throw new Error("--steps must be a positive integer");
if (!(threshold > 0 && threshold < 1)) throw new Error("--threshold must be in (0, 1)");
if (!(target >= 0.5 && target < 1)) throw new Error("--target must be in [0.5, 1)");
if (!Number.isInteger(turns) || turns < 1) throw new Error("--turns must be a positive integer");
if (!(preset in PRESETS)) throw new Error(`unknown preset ${preset}; one of ${Object.keys(PRESETS).join(", ")}`);

/** One image of the pool: a file on disk and its true class index (kept here, not given to the app). */
type PoolImage = { file: string; truth: number };

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Round-robin over the classes of a shuffled order, so the pool is balanced. */
function balancedPick<T extends { truth: number }>(items: T[], n: number, numClasses: number): T[] {
  const byClass = Array.from({ length: numClasses }, () => [] as T[]);
  for (const it of items) byClass[it.truth].push(it);
  const picked: T[] = [];
  for (let i = 0; picked.length < n && byClass.some((c) => i < c.length); i++) {
    for (const c of byClass) if (i < c.length && picked.length < n) picked.push(c[i]);
  }
  return picked;
}

function cifarPool(rng: Rng): { classes: string[]; pool: PoolImage[] } {
  const trainDir = path.join(datasetDir("cifar10-small", values.data), "train");
  const classes = fs.readdirSync(trainDir).sort();
  const all = classes.flatMap((cls, truth) =>
    fs.readdirSync(path.join(trainDir, cls)).filter((f) => f.endsWith(".jpg")).sort().map((f) => ({ file: path.join(trainDir, cls, f), truth })),
  );
  return { classes, pool: balancedPick(shuffle(all, rng), poolSize, classes.length) };
}

function readIdx(name: string): Uint8Array {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(datasetDir("fashion-mnist", values.data), name)));
  const dims = bytes[3];
  return new Uint8Array(bytes.buffer, bytes.byteOffset + 4 + 4 * dims, bytes.length - 4 - 4 * dims);
}

async function fashionPool(rng: Rng, tmp: string): Promise<{ classes: string[]; pool: PoolImage[] }> {
  const pixels = readIdx("train-images-idx3-ubyte.gz");
  const labels = readIdx("train-labels-idx1-ubyte.gz");
  const frames = balancedPick(shuffle(Array.from(labels, (truth, frame) => ({ frame, truth })), rng), poolSize, FASHION_CLASSES.length);
  const dir = path.join(tmp, "fashion");
  fs.mkdirSync(dir);
  const pool: PoolImage[] = [];
  for (const { frame, truth } of frames) {
    const file = path.join(dir, `${frame}.png`);
    await sharp(Buffer.from(pixels.subarray(frame * 784, (frame + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } })
      .toColourspace("b-w")
      .png()
      .toFile(file);
    pool.push({ file, truth });
  }
  return { classes: FASHION_CLASSES, pool };
}

const pct = (x: number | null) => (x === null ? "n/a" : `${(100 * x).toFixed(1)}%`);

type TurnResult = {
  labeled: number;
  runSteps: number;
  trainS: number;
  predictS: number;
  proposed: number;
  /** The most confident open proposal of the run, whatever τ is. */
  topConfidence: number | null;
  proposedCorrect: number;
  estimate: number | null;
  estimateN: number;
  estimateInterval: [number, number] | null;
  accepted: number;
  acceptedCorrect: number;
  /** Audit answers (human labels, each right by construction) and how many said the proposal was right. */
  audited: number;
  auditedRight: number;
  /** Per audited class: the audited interval at τ and the real precision of the class's proposals at τ. */
  classChecks: { classId: number; n: number; interval: [number, number] | null; real: number; acceptedAt: number | null }[];
  actions: number;
};

async function main(): Promise<void> {
  const rng = new Rng(seed);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-loop-"));
  try {
    process.env.FIXLABEL_DATA_DIR = path.join(tmp, "data");
    resetEnvCache();
    const db = getDb();
    migrateDb(db);
    const backend = await ensureBackend();

    // ---- the pool: imported without labels, under neutral names ----
    const { classes: classNames, pool } = values.dataset === "cifar10-small" ? cifarPool(rng) : await fashionPool(rng, tmp);
    const project = createProject(db, { name: `loop ${values.dataset}`, classes: classNames.map((name) => ({ name })) });
    updateProject(db, project.id, { targetPrecision: target });
    const classIds = listClasses(db, project.id).map((c) => c.id);
    const truthOf = new Map<number, number>(); // imageId -> true class id
    const batch = new ImportBatch(db, project.id, "bench");
    const importStart = performance.now();
    for (const [i, img] of pool.entries()) {
      const r = await ingestFile(db, { projectId: project.id, filePath: img.file, originalName: `img-${String(i).padStart(5, "0")}${path.extname(img.file)}`, label: null, actor: "bench", batch });
      if (r.status === "added" || r.status === "duplicate") truthOf.set(r.imageId, classIds[img.truth]);
    }
    const importS = (performance.now() - importStart) / 1000;

    // ---- the person labels 4 images per class (one click each) ----
    const perClass = new Map<number, number>();
    let initialClicks = 0;
    for (const [imageId, classId] of shuffle([...truthOf], rng)) {
      if ((perClass.get(classId) ?? 0) >= LABELS_PER_CLASS) continue;
      perClass.set(classId, (perClass.get(classId) ?? 0) + 1);
      setHumanLabels(db, project.id, { imageIds: [imageId], classId }, "human");
      initialClicks++;
    }

    const runner = new JobRunner({ db, handlers, leaseMs: 10 * 60_000, workerId: "bench", log: () => undefined });
    const results: TurnResult[] = [];
    let labeled = initialClicks;
    for (let turn = 1; turn <= turns; turn++) {
      const { run } = startTrainingRun(db, project.id, { mode: "fixmatch", preset, overrides: { steps, seed: seed + turn } });
      const t0 = performance.now();
      if (!(await runner.runOnce())) throw new Error("no train job was queued");
      const t1 = performance.now();
      if (!(await runner.runOnce())) throw new Error(`run ${run.id} queued no predict job: ${JSON.stringify(getRun(db, run.id))}`);
      const t2 = performance.now();
      const done = getRun(db, run.id);
      if (done.status !== "succeeded") throw new Error(`run ${run.id} ${done.status}: ${done.error}`);

      // What the review page shows at τ, and what is really above τ.
      const estimate = estimatePrecision(db, project.id, run.id, threshold);
      const scope = { projectId: project.id, runId: run.id };
      const above = listOpenProposalConfidences(db, scope, undefined, threshold);
      const proposedCorrect = above.filter((p) => truthOf.get(p.imageId) === p.classId).length;
      const topConfidence = listOpenProposalConfidences(db, scope)[0]?.confidence ?? null;

      // The simulated reviewer (see the header).
      let accepted = 0;
      let acceptedCorrect = 0;
      let audited = 0;
      let auditedRight = 0;
      let actions = 0;
      const classChecks: TurnResult["classChecks"] = [];
      for (const classId of classIds) {
        const shown = above.filter((p) => p.classId === classId);
        if (shown.length === 0) continue;
        const real = shown.filter((p) => truthOf.get(p.imageId) === classId).length / shown.length;
        for (let draw = 0; draw < 3; draw++) {
          const items = auditSample(db, project.id, { runId: run.id, classId, threshold }).items;
          if (items.length === 0) break;
          const answers = items.map((it) => ({ imageId: it.imageId, classId: truthOf.get(it.imageId)! }));
          const r = answerAudit(db, project.id, { runId: run.id, floor: threshold, answers }, "human");
          audited += r.answered;
          auditedRight += r.correct;
          actions += r.answered;
          if (proposalGate(db, project.id, run.id, classId, threshold).status !== "too_few") break;
        }
        const gate = proposalGate(db, project.id, run.id, classId, threshold);
        const chosen = gate.open ? gate : (proposalSummary(db, project.id, { runId: run.id, threshold }).audit.classThresholds[classId] ?? null);
        classChecks.push({ classId, n: gate.n, interval: gate.interval, real, acceptedAt: chosen?.threshold ?? null });
        if (!chosen) continue;
        // What "Accept all" takes now: the class's open proposals at the gate's threshold, the audited ones gone.
        const remaining = listOpenProposalConfidences(db, scope, classId, chosen.threshold);
        if (remaining.length === 0) continue;
        const result = acceptProposals(db, project.id, { runId: run.id, classId, minConfidence: chosen.threshold }, "human");
        actions++;
        accepted += result.accepted;
        acceptedCorrect += remaining.filter((p) => truthOf.get(p.imageId) === classId).length;
      }
      results.push({
        labeled,
        runSteps: done.step,
        trainS: (t1 - t0) / 1000,
        predictS: (t2 - t1) / 1000,
        proposed: above.length,
        topConfidence,
        proposedCorrect,
        estimate: estimate.precision,
        estimateN: estimate.support,
        estimateInterval: estimate.interval,
        accepted,
        acceptedCorrect,
        audited,
        auditedRight,
        classChecks,
        actions,
      });
      labeled += accepted + audited;
    }

    // ---- report ----
    const cpus = os.cpus();
    console.log(
      `${values.dataset}: pool ${truthOf.size} images (imported unlabeled in ${importS.toFixed(1)} s), ${classIds.length} classes, ${LABELS_PER_CLASS} human labels/class (${initialClicks} clicks), preset ${preset}, ${steps} steps/run, τ = ${threshold}`,
    );
    console.log(`reviewer: per class, check a random sample above τ (1 action per answer), then 'Accept all' only through the gate (target ${target}; 1 action)`);
    for (const [i, r] of results.entries()) {
      const interval = r.estimateInterval ? ` [${pct(r.estimateInterval[0])}, ${pct(r.estimateInterval[1])}]` : "";
      console.log(
        `turn ${i + 1}: labeled ${r.labeled}, run ${r.runSteps} steps in ${r.trainS.toFixed(0)} s (+ predict ${r.predictS.toFixed(0)} s), ` +
          `${r.proposed} proposals ≥ τ (most confident ${r.topConfidence?.toFixed(3) ?? "n/a"}), estimated precision ${pct(r.estimate)} (n=${r.estimateN}${interval}) vs real ${pct(r.proposed ? r.proposedCorrect / r.proposed : null)}, ` +
          `audited ${r.audited} (${r.auditedRight} proposals right), accepted through the gate ${r.accepted} (${r.acceptedCorrect} correct, ${pct(r.accepted ? r.acceptedCorrect / r.accepted : null)}), ` +
          `${r.actions} human actions, ${r.actions ? ((r.acceptedCorrect + r.audited) / r.actions).toFixed(2) : "n/a"} correct labels/action`,
      );
      const holds = r.classChecks.filter((c) => c.interval && c.interval[0] <= c.real && c.real <= c.interval[1]).length;
      console.log(
        `  audited classes: ${r.classChecks.length}, interval holds the real precision in ${holds}; ` +
          r.classChecks
            .map((c) => `${classNames[classIds.indexOf(c.classId)]} ${c.interval ? `[${pct(c.interval[0])}, ${pct(c.interval[1])}]` : "n/a"} (n=${c.n}) real ${pct(c.real)}${c.acceptedAt === null ? "" : ` accepted ≥ ${c.acceptedAt.toFixed(2)}`}`)
            .join("; "),
      );
    }
    const sum = (f: (r: TurnResult) => number) => results.reduce((s, r) => s + f(r), 0);
    const correct = sum((r) => r.acceptedCorrect + r.audited);
    const actions = sum((r) => r.actions);
    const proposed = sum((r) => r.proposed);
    console.log(
      `total over ${turns} turn(s): ${correct} correct labels gained (audit answers + right accepts) for ${actions} review actions = ${actions ? (correct / actions).toFixed(2) : "n/a"} per action ` +
        `(${((correct + initialClicks) / (actions + initialClicks)).toFixed(2)} counting the ${initialClicks} initial clicks); ` +
        `accepted-through-the-gate precision ${pct(sum((r) => r.accepted) ? sum((r) => r.acceptedCorrect) / sum((r) => r.accepted) : null)} of ${sum((r) => r.accepted)}; ` +
        `proposed ≥ τ precision ${pct(proposed ? sum((r) => r.proposedCorrect) / proposed : null)} over ${proposed} proposals; ` +
        `labeled ${labeled} of ${truthOf.size}`,
    );
    console.log(`machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? "unknown CPU"}, backend ${backend.name} (${backend.reason}), Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`);
    console.log(
      `reproduce: npx tsx bench/loop.ts --dataset ${values.dataset}${values.data ? ` --data ${values.data}` : ""} --pool ${poolSize} --steps ${steps} --threshold ${threshold} --target ${target} --turns ${turns} --seed ${seed} --preset ${preset}`,
    );
    closeDb();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
