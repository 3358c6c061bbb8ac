/**
 * Review at scale: `npx tsx bench/review-scale.ts [--n 50000] [--classes 10] [--labeled 0.02] [--rounds 40] [--keep]`.
 *
 * Builds a project of N images in a temporary data folder (rows only: no pixels are needed), a
 * small share labeled by a person (a few of them wrong on purpose, so "suspicious labels" has
 * something to find), then two finished runs whose predictions are written the way the predict job
 * writes them (worker/handlers/train.ts handlePredict: chunks of 1,024 images through
 * writePredictions, which commits 500 rows a transaction), each with its data snapshot, and the
 * latest with its embeddings file. Predictions are synthetic but shaped like a FixMatch model's:
 * mostly confident, calibrated (a prediction of confidence c is right with probability c).
 *
 * Then it times, through the real route handlers the UI calls (zod parsing, the token check, the
 * queries, JSON), in process, so the figures are the server's own time without network or
 * browser: the review summary (counts per class and the precision curve behind the threshold
 * slider), proposal pages per class (first page and random deeper pages of 200, as the review grid
 * pages), "label next", suspicious labels, the model page's metrics and comparison, the labeling
 * grid and counts; then "accept all above a threshold" for the class with the most proposals (and
 * its undo), and the reads again right after an accept. Each read at --rounds random classes,
 * thresholds and offsets: p50 / p95 / max.
 *
 * Everything it writes is deleted at the end (--keep leaves the folder and prints its path, to run
 * EXPLAIN QUERY PLAN on the database).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { GET as projectCounts } from "@/app/api/projects/[id]/counts/route";
import { GET as gridPage } from "@/app/api/projects/[id]/images/route";
import { POST as undoLabels } from "@/app/api/projects/[id]/labels/undo/route";
import { GET as nextPicks } from "@/app/api/projects/[id]/next/route";
import { POST as acceptProposals } from "@/app/api/projects/[id]/proposals/accept/route";
import { GET as proposalPage } from "@/app/api/projects/[id]/proposals/route";
import { GET as proposalSummary } from "@/app/api/projects/[id]/proposals/summary/route";
import { GET as suspiciousLabels } from "@/app/api/projects/[id]/suspicious/route";
import { GET as compareMetrics } from "@/app/api/runs/[runId]/metrics/compare/route";
import { GET as runMetrics } from "@/app/api/runs/[runId]/metrics/route";
import { closeDb, getDb, type Db } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, updateRun, writePredictions, type NewPrediction } from "@/lib/db/queries/training";
import { images } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { writeEmbeddings } from "@/lib/ml/embeddings";
import { runSnapshotPath } from "@/lib/review/precision";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "50000" },
    classes: { type: "string", default: "10" },
    labeled: { type: "string", default: "0.02" },
    rounds: { type: "string", default: "40" },
    keep: { type: "boolean", default: false },
  },
});
const N = Number(values.n);
const K = Number(values.classes);
const LABELED_SHARE = Number(values.labeled);
const ROUNDS = Number(values.rounds);
if (!Number.isInteger(N) || N < 1000) throw new Error("--n must be an integer >= 1000");
if (!Number.isInteger(K) || K < 2 || K > 100) throw new Error("--classes must be an integer in 2..100");
if (!(LABELED_SHARE > 0 && LABELED_SHARE < 0.5)) throw new Error("--labeled must be in (0, 0.5)");
if (!Number.isInteger(ROUNDS) || ROUNDS < 5) throw new Error("--rounds must be an integer >= 5");

/** As worker/handlers/train.ts PREDICT_CHUNK: the predict job hands writePredictions this many images at a time. */
const PREDICT_CHUNK = 1024;
/** As app/lib/api.ts PROPOSAL_PAGE_SIZE and the grid's page. */
const PAGE = 200;
/** Share of the human labels that disagree with the image's true class (label noise). */
const LABEL_NOISE = 0.03;
const EMBEDDING_DIM = 128;

// ---------- deterministic randomness ----------

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

/**
 * A FixMatch-like model's probabilities for an image of class `truth`: confidence c mostly high
 * (median ~0.89, ~38% at or above 0.95), the top class right with probability c, the rest of the
 * mass spread at random. Float32 values, as the worker stores Array.from(Float32Array).
 */
function syntheticProbs(truth: number, r: () => number): number[] {
  const c = 1 / K + (1 - 1 / K) * (1 - r() ** 3);
  const top = r() < c ? truth : (truth + 1 + Math.floor(r() * (K - 1))) % K;
  const rest = Array.from({ length: K }, (_, i) => (i === top ? 0 : r() ** 2));
  const sum = rest.reduce((a, b) => a + b, 0) || 1;
  return rest.map((w, i) => Math.fround(i === top ? c : ((1 - c) * w) / sum));
}

// ---------- timing ----------

type Sample = { ms: number; bytes: number };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const params = <P>(p: P) => ({ params: Promise.resolve(p) });

/** Calls a route handler and reads the whole body: the server's time to answer, JSON included. */
async function call<P>(handler: (req: Request, ctx: { params: Promise<P> }) => Promise<Response>, url: string, p: P, body?: unknown) {
  const init: RequestInit = body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
  const start = process.hrtime.bigint();
  const res = await handler(new Request(`http://bench${url}`, init), params(p));
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${text.slice(0, 300)}`);
  return { ms, bytes: text.length, json: JSON.parse(text) as unknown };
}

type Row = { name: string; samples: Sample[]; note: string };
const table: Row[] = [];

function record(name: string, samples: Sample[], note = "") {
  table.push({ name, samples, note });
}

function printTable() {
  const head = ["endpoint", "calls", "p50 ms", "p95 ms", "max ms", "body KB", "what"];
  const rows = table.map((r) => {
    const ms = r.samples.map((s) => s.ms).sort((a, b) => a - b);
    const kb = r.samples.map((s) => s.bytes / 1024).sort((a, b) => a - b);
    return [r.name, String(ms.length), percentile(ms, 50).toFixed(1), percentile(ms, 95).toFixed(1), ms[ms.length - 1].toFixed(1), percentile(kb, 50).toFixed(1), r.note];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(r));
}

// ---------- building the project ----------

type Built = { projectId: number; classIds: number[]; imageIds: number[]; truth: Map<number, number>; runIds: number[] };

function insertImages(db: Db, projectId: number): number[] {
  const ids: number[] = [];
  db.transaction(() => {
    for (let start = 0; start < N; start += 500) {
      const rows = Array.from({ length: Math.min(500, N - start) }, (_, j) => {
        const i = start + j;
        return {
          projectId,
          sha256: i.toString(16).padStart(64, "0"),
          originalName: `img-${String(i).padStart(6, "0")}.jpg`,
          format: "jpeg",
          width: 32,
          height: 32,
          bytes: 1000,
          channels: 3,
          thumbStatus: "ready" as const,
        };
      });
      ids.push(...db.insert(images).values(rows).returning({ id: images.id }).all().map((r) => r.id));
    }
  });
  return ids;
}

/** A finished run with its data snapshot, as the trainer leaves it before the predict job. */
function finishedRun(db: Db, projectId: number, classIds: number[], imageIds: number[], labeled: [number, number][]) {
  const startedAt = Date.now();
  const run = createRun(db, { projectId, mode: "fixmatch", config: { request: { mode: "fixmatch", preset: "quick-cpu" }, classIds }, totalSteps: 1000 });
  const file = runSnapshotPath(run.id);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ classIds, labeled, imageIds, channels: 3 }));
  return updateRun(db, run.id, {
    status: "succeeded",
    step: 1000,
    startedAt,
    finishedAt: startedAt + 1,
    metrics: { step: 1000, heldOutAcc: 0.9, heldOutImages: 0, trainLabeled: labeled.length },
  });
}

/** The predict job's write path: rows built per chunk of 1,024 images, written with writePredictions. Returns the seconds spent writing. */
function predictRun(db: Db, built: Built, run: { id: number; modelVersion: string }, seed: number): number {
  const r = mulberry32(seed);
  let writing = 0;
  for (let start = 0; start < built.imageIds.length; start += PREDICT_CHUNK) {
    const ids = built.imageIds.slice(start, start + PREDICT_CHUNK);
    const rows: NewPrediction[] = ids.map((imageId) => {
      const p = syntheticProbs(built.truth.get(imageId)!, r);
      const top = p.indexOf(Math.max(...p));
      return { projectId: built.projectId, imageId, runId: run.id, modelVersion: run.modelVersion, probs: p, topClassId: built.classIds[top], confidence: p[top] };
    });
    const t0 = process.hrtime.bigint();
    writePredictions(db, rows);
    writing += Number(process.hrtime.bigint() - t0) / 1e9;
  }
  return writing;
}

/** Penultimate-layer features as the predict job writes them: a cluster per true class, plus noise. */
async function writeRunEmbeddings(built: Built, runId: number) {
  const r = mulberry32(7);
  const centers = Array.from({ length: K }, () => Array.from({ length: EMBEDDING_DIM }, () => r() * 2 - 1));
  const values = new Float32Array(built.imageIds.length * EMBEDDING_DIM);
  built.imageIds.forEach((id, row) => {
    const c = centers[built.truth.get(id)!];
    for (let d = 0; d < EMBEDDING_DIM; d++) values[row * EMBEDDING_DIM + d] = Math.max(0, c[d] + (r() - 0.5));
  });
  await writeEmbeddings(path.dirname(runSnapshotPath(runId)), { dim: EMBEDDING_DIM, imageIds: built.imageIds, values });
}

async function build(db: Db) {
  const t0 = Date.now();
  const project = createProject(db, { name: "review scale", classes: Array.from({ length: K }, (_, i) => ({ name: `class-${i}` })) });
  const classIds = getProjectWithClasses(db, project.id).classes.map((c) => c.id);
  const imageIds = insertImages(db, project.id);
  const truth = new Map(imageIds.map((id) => [id, Math.floor(rand() * K)]));

  // A person labels a small share, spread over the project (a few labels wrong on purpose).
  const labeledIds = imageIds.filter(() => rand() < LABELED_SHARE);
  const labelOf = new Map(labeledIds.map((id) => [id, rand() < LABEL_NOISE ? (truth.get(id)! + 1) % K : truth.get(id)!]));
  for (let c = 0; c < K; c++) {
    const ids = labeledIds.filter((id) => labelOf.get(id) === c);
    if (ids.length) setHumanLabels(db, project.id, { imageIds: ids, classId: classIds[c] }, "bench");
  }
  const labeled: [number, number][] = labeledIds.map((id) => [id, labelOf.get(id)!]);
  const built: Built = { projectId: project.id, classIds, imageIds, truth, runIds: [] };
  const setupS = (Date.now() - t0) / 1000;

  // Two runs, the older first: the table holds 2 x N predictions, as a project with some history does.
  const writes: { run: number; seconds: number; kind: string }[] = [];
  for (const [i, seed] of [11, 12].entries()) {
    const run = finishedRun(db, project.id, classIds, imageIds, labeled);
    built.runIds.push(run.id);
    writes.push({ run: run.id, seconds: predictRun(db, built, run, seed), kind: i === 0 ? "first run" : "second run (table holds N rows already)" });
  }
  const latest = built.runIds[built.runIds.length - 1];
  // A re-queued predict job writes the same run again: every row takes the upsert's conflict path.
  writes.push({ run: latest, seconds: predictRun(db, built, { id: latest, modelVersion: `p${project.id}-r${latest}` }, 12), kind: "same run again (upsert: every row conflicts)" });
  const e0 = Date.now();
  await writeRunEmbeddings(built, latest);
  return { built, labeledCount: labeledIds.length, setupS, writes, embeddingsS: (Date.now() - e0) / 1000 };
}

// ---------- the reads and writes the UI makes ----------

async function timeReads(built: Built, label: string, rounds: number) {
  const pid = String(built.projectId);
  const id = { id: pid };
  const latest = built.runIds[built.runIds.length - 1];
  const older = built.runIds[0];
  const thresholds = () => Math.round((0.5 + rand() * 0.499) * 1000) / 1000;
  const suffix = label ? ` ${label}` : "";

  const summary: Sample[] = [];
  for (let r = 0; r < rounds; r++) summary.push(await call(proposalSummary, `/api/projects/${pid}/proposals/summary?threshold=${thresholds()}`, id));
  record(`proposals/summary${suffix}`, summary, "counts per class at τ + precision curve (59 τ)");

  const first: Sample[] = [];
  const deep: Sample[] = [];
  let totals = 0;
  for (let r = 0; r < rounds; r++) {
    const classId = pick(built.classIds);
    const minConfidence = thresholds();
    const q = (offset: number) => `/api/projects/${pid}/proposals?runId=${latest}&classId=${classId}&minConfidence=${minConfidence}&offset=${offset}&limit=${PAGE}`;
    const a = await call(proposalPage, q(0), id);
    first.push(a);
    const total = (a.json as { total: number }).total;
    totals += total;
    const offset = Math.floor(rand() * Math.max(1, Math.ceil(total / PAGE))) * PAGE;
    deep.push(await call(proposalPage, q(offset), id));
  }
  record(`proposals page 0${suffix}`, first, `random class and τ in [0.5, 1), ${PAGE} a page; ${Math.round(totals / rounds)} proposals on average`);
  record(`proposals page k${suffix}`, deep, "the same, at a random page of those");

  const lowFirst: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    const classId = pick(built.classIds);
    lowFirst.push(await call(proposalPage, `/api/projects/${pid}/proposals?runId=${latest}&classId=${classId}&minConfidence=0&offset=0&limit=${PAGE}`, id));
  }
  record(`proposals page 0, τ=0${suffix}`, lowFirst, "every open proposal of the class");

  const next: Sample[] = [];
  for (let r = 0; r < rounds; r++) next.push(await call(nextPicks, `/api/projects/${pid}/next?measure=${r % 2 ? "entropy" : "margin"}&limit=60`, id));
  const nextJson = (await call(nextPicks, `/api/projects/${pid}/next?limit=60`, id)).json as { diversity: string; pool: number; unlabeled: number };
  record(`next (label next)${suffix}`, next, `60 picks, pool ${nextJson.pool} of ${nextJson.unlabeled} unlabeled, k-center on ${nextJson.diversity}`);

  const suspicious: Sample[] = [];
  let flagged = 0;
  for (let r = 0; r < rounds; r++) {
    const s = await call(suspiciousLabels, `/api/projects/${pid}/suspicious?sources=human,accepted_proposal`, id);
    flagged = (s.json as { total: number }).total;
    suspicious.push(s);
  }
  record(`suspicious${suffix}`, suspicious, `${flagged} flagged`);

  const metrics: Sample[] = [];
  for (let r = 0; r < rounds; r++) metrics.push(await call(runMetrics, `/api/runs/${latest}/metrics`, { runId: String(latest) }));
  record(`runs/:id/metrics${suffix}`, metrics, "held-out confusion matrix, sources, reception");
  const compare: Sample[] = [];
  for (let r = 0; r < Math.ceil(rounds / 2); r++) compare.push(await call(compareMetrics, `/api/runs/${latest}/metrics/compare?with=${older}`, { runId: String(latest) }));
  record(`runs/:id/metrics/compare${suffix}`, compare, "two versions side by side");

  const grid: Sample[] = [];
  const gridUnlabeled: Sample[] = [];
  for (let r = 0; r < rounds; r++) {
    grid.push(await call(gridPage, `/api/projects/${pid}/images?filter=all&offset=${Math.floor(rand() * (N - PAGE))}&limit=${PAGE}`, id));
    gridUnlabeled.push(await call(gridPage, `/api/projects/${pid}/images?filter=unlabeled&offset=${Math.floor(rand() * (N / 2))}&limit=${PAGE}`, id));
  }
  record(`images (grid) all${suffix}`, grid, `random page of ${PAGE}`);
  record(`images (grid) unlabeled${suffix}`, gridUnlabeled, `random page of ${PAGE}`);

  const counts: Sample[] = [];
  for (let r = 0; r < rounds; r++) counts.push(await call(projectCounts, `/api/projects/${pid}/counts`, id));
  record(`counts${suffix}`, counts, "labels per class and source");
}

/** Open proposals per class at τ, from the summary (what the review page shows on each class tab). */
async function openByClass(built: Built, threshold: number): Promise<Record<string, number>> {
  const res = await call(proposalSummary, `/api/projects/${built.projectId}/proposals/summary?threshold=${threshold}`, { id: String(built.projectId) });
  return (res.json as { byClass: Record<string, number> }).byClass;
}

async function timeAccept(built: Built) {
  const pid = String(built.projectId);
  const id = { id: pid };
  const latest = built.runIds[built.runIds.length - 1];
  const threshold = 0.5;
  const accept: Sample[] = [];
  const undo: Sample[] = [];
  const pageAfter: Sample[] = [];
  let accepted = 0;
  // Accept a class's proposals, read its first page right after, undo; then the next class.
  for (let round = 0; round < 3; round++) {
    const open = await openByClass(built, threshold);
    const classId = Number(Object.entries(open).sort((a, b) => b[1] - a[1])[round][0]);
    const a = await call(acceptProposals, `/api/projects/${pid}/proposals/accept`, id, { runId: latest, classId, minConfidence: threshold });
    accept.push(a);
    accepted += (a.json as { accepted: number }).accepted;
    pageAfter.push(await call(proposalPage, `/api/projects/${pid}/proposals?runId=${latest}&classId=${classId}&minConfidence=${threshold}&offset=0&limit=${PAGE}`, id));
    pageAfter.push(await call(proposalPage, `/api/projects/${pid}/proposals?runId=${latest}&classId=${pick(built.classIds)}&minConfidence=${threshold}&offset=0&limit=${PAGE}`, id));
    undo.push(await call(undoLabels, `/api/projects/${pid}/labels/undo`, id, {}));
  }
  record("proposals/accept (class, τ=0.5)", accept, `POST; ${Math.round(accepted / accept.length)} images accepted per call, one undoable action`);
  record("proposals page 0 after accept", pageAfter, "the accepted class's page and another class's");
  record("labels/undo of that accept", undo, "POST; restores every image");

  // Accept the largest class for good; the reads below then see thousands of accepted labels.
  const open = await openByClass(built, threshold);
  const classId = Number(Object.entries(open).sort((a, b) => b[1] - a[1])[0][0]);
  const kept = await call(acceptProposals, `/api/projects/${pid}/proposals/accept`, id, { runId: latest, classId, minConfidence: threshold });
  return (kept.json as { accepted: number }).accepted;
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-review-"));
  try {
    process.env.FIXLABEL_DATA_DIR = path.join(tmp, "data");
    resetEnvCache();
    const db = getDb();
    migrateDb(db);

    const { built, labeledCount, setupS, writes, embeddingsS } = await build(db);
    const pid = String(built.projectId);
    const latest = built.runIds[built.runIds.length - 1];
    const cold = await call(nextPicks, `/api/projects/${pid}/next?limit=60`, { id: pid });
    record("next, first call", [cold], `reads the run's embeddings (${N.toLocaleString("en")} x ${EMBEDDING_DIM} float32) into memory once`);
    const coldSummary = await call(proposalSummary, `/api/projects/${pid}/proposals/summary`, { id: pid });
    record("proposals/summary, first call", [coldSummary], "as the review page opens (no τ: 0.95)");

    await timeReads(built, "", ROUNDS);
    const keptAccepted = await timeAccept(built);
    await timeReads(built, "(after accept)", Math.ceil(ROUNDS / 2));

    const cpus = os.cpus();
    console.log(
      `project:    ${N.toLocaleString("en")} images, ${K} classes, ${labeledCount} labeled by a person (${(100 * LABEL_NOISE).toFixed(0)}% of them wrong on purpose; 20% per class held out by the runs), ` +
        `${built.runIds.length} finished runs x ${N.toLocaleString("en")} predictions; built in ${setupS.toFixed(1)} s`,
    );
    for (const w of writes) {
      console.log(`predict:    run ${w.run}, ${w.kind}: ${N.toLocaleString("en")} rows written in ${w.seconds.toFixed(2)} s = ${Math.round(N / w.seconds).toLocaleString("en")} rows/s (writePredictions, chunks of ${PREDICT_CHUNK}, 500 rows a transaction)`);
    }
    console.log(`embeddings: run ${latest}, ${((N * EMBEDDING_DIM * 4) / 1e6).toFixed(0)} MB written in ${embeddingsS.toFixed(2)} s`);
    console.log(`timed:      ${ROUNDS} calls per read (random class, τ, offset), through the route handlers in process, body read; after the accept/undo rounds, ${keptAccepted} proposals of one class stay accepted and the reads run again (${Math.ceil(ROUNDS / 2)} calls):`);
    console.log("");
    printTable();
    console.log("");
    const size = fs.statSync(path.join(tmp, "data", "fixlabel.sqlite")).size;
    console.log(`database:   ${(size / 1e6).toFixed(0)} MB (+ WAL), ${path.join(tmp, "data")}`);
    console.log(`machine:    ${cpus[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}, Node ${process.version}, ${os.platform()}`);
    console.log(`reproduce:  npx tsx bench/review-scale.ts --n ${N} --classes ${K} --labeled ${LABELED_SHARE} --rounds ${ROUNDS}`);
    closeDb();
  } finally {
    if (values.keep) console.log(`kept:       ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
