/** The insight routes (label next, suspicious labels and keep, model metrics and compare) over a tiny project. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GET as metrics } from "@/app/api/runs/[runId]/metrics/route";
import { GET as compare } from "@/app/api/runs/[runId]/metrics/compare/route";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { images } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { makeTestDb } from "@/lib/testing/db";
import { GET as next } from "../next/route";
import { DELETE as restore, POST as keep } from "./dismiss/route";
import { GET as suspicious } from "./route";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number, dog: number;
let imageIds: number[];
let runId: number;

const params = (id: number) => ({ params: Promise.resolve({ id: String(id) }) });
const runParams = (id: number) => ({ params: Promise.resolve({ runId: String(id) }) });
const get = (url: string) => new Request(`http://localhost${url}`);
const send = (method: string, url: string, body: unknown) =>
  new Request(`http://localhost${url}`, { method, body: JSON.stringify(body), headers: { "content-type": "application/json" } });

beforeEach(() => {
  delete process.env.FIXLABEL_TOKEN;
  ({ db, cleanup } = makeTestDb());
  resetEnvCache();
  projectId = createProject(db, { name: "p", classes: [{ name: "cat" }, { name: "dog" }] }).id;
  [cat, dog] = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  imageIds = [0, 1, 2, 3, 4].map(
    (i) =>
      db
        .insert(images)
        .values({ projectId, sha256: `${i}`.padStart(64, "a"), originalName: `i${i}.png`, format: "png", width: 8, height: 8, bytes: 1, channels: 3 })
        .returning()
        .get().id,
  );
  // 0 and 1 labeled cat, 4 dog; the model is surer that 1 is a dog (0.95) than it is of 4 (0.9, the dog threshold).
  // 2 and 3 unlabeled, 2 the more uncertain.
  setHumanLabels(db, projectId, { imageIds: imageIds.slice(0, 2), classId: cat }, "ann");
  setHumanLabels(db, projectId, { imageIds: [imageIds[4]], classId: dog }, "ann");
  const pCat = [0.9, 0.05, 0.5, 0.8, 0.1];
  const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat, dog] }, totalSteps: 1 });
  updateRun(db, run.id, { status: "succeeded" });
  runId = run.id;
  writePredictions(
    db,
    imageIds.map((imageId, i) => ({ projectId, imageId, runId, modelVersion: run.modelVersion, probs: [pCat[i], 1 - pCat[i]], topClassId: pCat[i] >= 0.5 ? cat : dog, confidence: Math.max(pCat[i], 1 - pCat[i]) })),
  );
});
afterEach(() => cleanup());

describe("insight routes", () => {
  it("label next lists unlabeled images, most uncertain first; a bad measure is a 400", async () => {
    const res = await next(get(`/api/projects/${projectId}/next?limit=5`), params(projectId));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ run: { id: runId }, measure: "margin", diversity: "probabilities", items: [{ imageId: imageIds[2] }, { imageId: imageIds[3] }] });
    expect((await next(get(`/api/projects/${projectId}/next?measure=vibes`), params(projectId))).status).toBe(400);
  });

  it("suspicious lists the contradicted label; keep hides it, DELETE brings it back", async () => {
    const base = `/api/projects/${projectId}/suspicious`;
    let res = await suspicious(get(base), params(projectId));
    expect(await res.json()).toMatchObject({ total: 1, items: [{ imageId: imageIds[1], labelClassId: cat, suggestedClassId: dog, confidence: 0.95 }] });
    res = await keep(send("POST", `${base}/dismiss`, { runId, imageIds: [imageIds[1]] }), params(projectId));
    expect(await res.json()).toEqual({ dismissed: 1 });
    expect(await (await suspicious(get(base), params(projectId))).json()).toMatchObject({ total: 0 });
    res = await restore(send("DELETE", `${base}/dismiss`, { runId, imageIds: [imageIds[1]] }), params(projectId));
    expect(await res.json()).toEqual({ restored: 1 });
    expect((await suspicious(get(`${base}?sources=nope`), params(projectId))).status).toBe(400);
    expect((await keep(send("POST", `${base}/dismiss`, { runId: 999, imageIds: [1] }), params(projectId))).status).toBe(404);
  });

  it("metrics and compare answer for a run; compare needs ?with", async () => {
    const res = await metrics(get(`/api/runs/${runId}/metrics`), runParams(runId));
    expect(res.status).toBe(200);
    // No data snapshot was written: no held-out set, and the page is told why.
    expect(await res.json()).toMatchObject({ run: { id: runId }, heldOut: null, heldOutReason: expect.stringMatching(/snapshot/), proposals: { acceptanceRate: null } });
    expect((await compare(get(`/api/runs/${runId}/metrics/compare`), runParams(runId))).status).toBe(400);
    expect((await compare(get(`/api/runs/${runId}/metrics/compare?with=${runId}`), runParams(runId))).status).toBe(200);
    expect((await metrics(get(`/api/runs/999/metrics`), runParams(999))).status).toBe(404);
  });
});
