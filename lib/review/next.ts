/**
 * "Label next": the unlabeled images whose human label would teach the model most, as a short
 * list to label by keyboard.
 *
 * Two steps, both deterministic:
 *   1. Uncertainty. From the run's probabilities: the margin 1 - (p1 - p2) by default (how close
 *      the model is to picking the runner-up), or the entropy normalised by log(K). The M most
 *      uncertain images (ties: lower image id first) form the candidate pool.
 *   2. Diversity. k-center greedy over the pool (Sener & Savarese, "Active learning for CNNs: a
 *      core-set approach"): start with the most uncertain image, then repeatedly add the
 *      candidate farthest from everything picked so far (ties: the more uncertain). Uncertain
 *      images come in clumps of near-copies (the same object photographed twice, one confusing
 *      background); k-center takes one of a clump and moves on.
 *
 * Distances are taken between the model's penultimate-layer features (written by the predict job,
 * lib/ml/embeddings.ts), L2-normalised so that the brightness or size of an image, which scales
 * its features, does not count as difference. Runs predicted before embeddings existed, or whose
 * features miss a candidate, fall back to the probability vectors: weaker, since two images the
 * model finds equally ambiguous between the same classes look identical there however different
 * they are, but it still spreads the list over different class confusions.
 */
import path from "node:path";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { listImageInfo, listUnlabeledProbs } from "@/lib/db/queries/insights";
import { embeddingsWrittenAt, readEmbeddings, type Embeddings } from "@/lib/ml/embeddings";
import { runSnapshotPath } from "./precision";
import { resolveReviewRun, viewRun, type ReviewRun } from "./proposals";

export const UNCERTAINTY_MEASURES = ["margin", "entropy"] as const;
export type UncertaintyMeasure = (typeof UNCERTAINTY_MEASURES)[number];

export const nextQuery = z.object({
  runId: z.coerce.number().int().positive().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(60),
  /** Candidate pool size M; by default 10 per pick, between 200 and 2,000. */
  pool: z.coerce.number().int().min(1).max(5000).optional(),
  measure: z.enum(UNCERTAINTY_MEASURES).default("margin"),
});

/** In [0, 1], 1 the most uncertain. */
export function uncertainty(probs: readonly number[], measure: UncertaintyMeasure): number {
  if (probs.length < 2) return 0;
  if (measure === "entropy") {
    let h = 0;
    for (const p of probs) if (p > 0) h -= p * Math.log(p);
    return h / Math.log(probs.length);
  }
  let p1 = -Infinity;
  let p2 = -Infinity;
  for (const p of probs) {
    if (p > p1) [p1, p2] = [p, p1];
    else if (p > p2) p2 = p;
  }
  return 1 - (p1 - p2);
}

export type Candidate = { imageId: number; uncertainty: number; vector: ArrayLike<number> };

function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - b[i];
    d += x * x;
  }
  return d;
}

/** Most uncertain first; ties by lower image id, so the order never depends on the database's. */
export function byUncertainty(a: Pick<Candidate, "imageId" | "uncertainty">, b: Pick<Candidate, "imageId" | "uncertainty">): number {
  return b.uncertainty - a.uncertainty || a.imageId - b.imageId;
}

/**
 * The `m` first of `items` in byUncertainty order, in that order: the same as sorting all of them
 * and taking the first m, without sorting them all. A bounded heap whose root is the worst item
 * kept: O(n log m), and most items are turned away by one comparison with the root. "Label next"
 * ranks every unlabeled image of a run (50,000 and more) for a pool of a few hundred.
 */
export function topByUncertainty<T extends Pick<Candidate, "imageId" | "uncertainty">>(items: readonly T[], m: number): T[] {
  if (m <= 0) return [];
  const heap: T[] = [];
  // Max-heap under byUncertainty: heap[0] is the item that sorts last, the first to go.
  const later = (a: T, b: T) => byUncertainty(a, b) > 0;
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let top = i;
      if (l < heap.length && later(heap[l], heap[top])) top = l;
      if (r < heap.length && later(heap[r], heap[top])) top = r;
      if (top === i) return;
      const t = heap[i];
      heap[i] = heap[top];
      heap[top] = t;
      i = top;
    }
  };
  for (const item of items) {
    if (heap.length < m) {
      heap.push(item);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!later(heap[i], heap[parent])) break;
        const t = heap[i];
        heap[i] = heap[parent];
        heap[parent] = t;
        i = parent;
      }
    } else if (later(heap[0], item)) {
      heap[0] = item;
      siftDown(0);
    }
  }
  return heap.sort(byUncertainty);
}

/**
 * k-center greedy: `k` candidates in pick order, each the farthest (in the minimum distance to
 * those already picked) from the picks before it. `candidates` must be sorted by byUncertainty:
 * the first is picked first and ties go to the earlier one. O(k * pool * dim).
 */
export function kCenterGreedy<T extends Candidate>(candidates: readonly T[], k: number): T[] {
  const n = candidates.length;
  if (n === 0 || k <= 0) return [];
  const picked: T[] = [candidates[0]];
  const taken = new Uint8Array(n);
  taken[0] = 1;
  const minDist = new Float64Array(n);
  for (let i = 0; i < n; i++) minDist[i] = squaredDistance(candidates[i].vector, candidates[0].vector);
  while (picked.length < Math.min(k, n)) {
    let best = -1;
    for (let i = 0; i < n; i++) if (!taken[i] && (best < 0 || minDist[i] > minDist[best])) best = i;
    taken[best] = 1;
    picked.push(candidates[best]);
    const center = candidates[best].vector;
    for (let i = 0; i < n; i++) if (!taken[i]) minDist[i] = Math.min(minDist[i], squaredDistance(candidates[i].vector, center));
  }
  return picked;
}

function normalized(values: Float32Array, row: number, dim: number): Float32Array {
  const v = values.slice(row * dim, (row + 1) * dim);
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  if (norm > 0) for (let i = 0; i < dim; i++) v[i] /= norm;
  return v;
}

/**
 * The latest run's features stay in memory between requests (25 MB for 50,000 images), until the
 * run is predicted again; a run still predicting has none yet and is looked at again next time.
 */
let cachedEmbeddings: { dir: string; writtenAt: number; embeddings: Embeddings | null; rowOf: Map<number, number> } | null = null;

function loadRunEmbeddings(runId: number): { embeddings: Embeddings | null; rowOf: Map<number, number> } {
  const dir = path.dirname(runSnapshotPath(runId));
  const writtenAt = embeddingsWrittenAt(dir);
  if (writtenAt === null) return { embeddings: null, rowOf: new Map() };
  if (cachedEmbeddings?.dir !== dir || cachedEmbeddings.writtenAt !== writtenAt) {
    const embeddings = readEmbeddings(dir);
    cachedEmbeddings = { dir, writtenAt, embeddings, rowOf: new Map(embeddings?.imageIds.map((id, i) => [id, i]) ?? []) };
  }
  return cachedEmbeddings;
}

export type NextPick = {
  imageId: number;
  name: string;
  width: number;
  height: number;
  /** 1-based place in the list. */
  rank: number;
  uncertainty: number;
  /** The model's best guess, so the tile can say what it is torn between. */
  topClassId: number;
  confidence: number;
  runnerUpClassId: number | null;
  runnerUpConfidence: number | null;
};

export type NextPicks = {
  run: ReviewRun | null;
  measure: UncertaintyMeasure;
  /** What k-center measured distances on. */
  diversity: "embeddings" | "probabilities";
  /** Unlabeled images the run predicted, and how many of the most uncertain were considered. */
  unlabeled: number;
  pool: number;
  items: NextPick[];
};

/** The two most probable classes of a probability vector (indices). */
function topTwo(probs: readonly number[]): [number, number | null] {
  let first = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[first]) first = i;
  let second: number | null = null;
  for (let i = 0; i < probs.length; i++) if (i !== first && (second === null || probs[i] > probs[second])) second = i;
  return [first, second];
}

/** The ranked, spread-out list of unlabeled images to label next, from the run asked for or the latest one. */
export function pickNextToLabel(db: Db, projectId: number, query: z.input<typeof nextQuery>): NextPicks {
  const q = nextQuery.parse(query);
  const run = resolveReviewRun(db, projectId, q.runId);
  if (!run) return { run: null, measure: q.measure, diversity: "probabilities", unlabeled: 0, pool: 0, items: [] };
  const { classIds } = run.config as { classIds: number[] };

  const unlabeled = listUnlabeledProbs(db, { projectId, runId: run.id }).map((r) => ({ imageId: r.imageId, probs: r.probs, uncertainty: uncertainty(r.probs, q.measure) }));
  const poolSize = q.pool ?? Math.min(2000, Math.max(200, 10 * q.limit));
  const pool = topByUncertainty(unlabeled, poolSize);

  const { embeddings, rowOf } = loadRunEmbeddings(run.id);
  const useEmbeddings = !!embeddings && pool.every((c) => rowOf.has(c.imageId));
  const candidates = pool.map((c) => ({
    ...c,
    vector: useEmbeddings ? normalized(embeddings!.values, rowOf.get(c.imageId)!, embeddings!.dim) : c.probs,
  }));
  const picks = kCenterGreedy(candidates, q.limit);

  const info = new Map(listImageInfo(db, projectId, picks.map((p) => p.imageId)).map((i) => [i.id, i]));
  const items: NextPick[] = picks.flatMap((p, i) => {
    const image = info.get(p.imageId);
    if (!image) return [];
    const [first, second] = topTwo(p.probs);
    return [
      {
        imageId: p.imageId,
        name: image.name,
        width: image.width,
        height: image.height,
        rank: i + 1,
        uncertainty: p.uncertainty,
        topClassId: classIds[first],
        confidence: p.probs[first],
        runnerUpClassId: second === null ? null : classIds[second],
        runnerUpConfidence: second === null ? null : p.probs[second],
      },
    ];
  });
  return {
    run: viewRun(run),
    measure: q.measure,
    diversity: useEmbeddings ? "embeddings" : "probabilities",
    unlabeled: unlabeled.length,
    pool: pool.length,
    items,
  };
}
