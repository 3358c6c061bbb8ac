import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { createRun, updateRun, writePredictions } from "@/lib/db/queries/training";
import { images } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { makeTestDb } from "@/lib/testing/db";
import { PATCH as patchProject } from "../route";
import { POST as accept } from "./accept/route";
import { GET as audit, POST as auditPost } from "./audit/route";
import { POST as reject } from "./reject/route";
import { GET as list } from "./route";
import { GET as summary } from "./summary/route";

let db: Db;
let cleanup: () => void;
let projectId: number;
let cat: number;
let imageIds: number[];
let runId: number;

const params = (id: number) => ({ params: Promise.resolve({ id: String(id) }) });
const get = (url: string) => new Request(`http://localhost${url}`);
const post = (url: string, body: unknown) =>
  new Request(`http://localhost${url}`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });

beforeEach(() => {
  delete process.env.FIXLABEL_TOKEN;
  ({ db, cleanup } = makeTestDb());
  resetEnvCache();
  projectId = createProject(db, { name: "p", classes: [{ name: "cat" }, { name: "dog" }] }).id;
  [cat] = getProjectWithClasses(db, projectId).classes.map((c) => c.id);
  imageIds = [0, 1, 2].map(
    (i) =>
      db
        .insert(images)
        .values({ projectId, sha256: `${i}`.padStart(64, "a"), originalName: `i${i}.png`, format: "png", width: 8, height: 8, bytes: 1, channels: 3 })
        .returning()
        .get().id,
  );
  const run = createRun(db, { projectId, mode: "fixmatch", config: { classIds: [cat] }, totalSteps: 1 });
  updateRun(db, run.id, { status: "succeeded" });
  runId = run.id;
  writePredictions(
    db,
    imageIds.map((imageId, i) => ({ projectId, imageId, runId, modelVersion: run.modelVersion, probs: [0.9 + i / 100], topClassId: cat, confidence: 0.9 + i / 100 })),
  );
});
afterEach(() => cleanup());

describe("proposals API", () => {
  it("lists, summarises, rejects and accepts", async () => {
    const base = `/api/projects/${projectId}/proposals`;
    let res = await list(get(`${base}?classId=${cat}&minConfidence=0.905`), params(projectId));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ run: { id: runId }, total: 2, items: [{ imageId: imageIds[2] }, { imageId: imageIds[1] }] });

    res = await summary(get(`${base}/summary?threshold=0.9`), params(projectId));
    expect(await res.json()).toMatchObject({ total: 3, byClass: { [cat]: 3 }, precision: { precision: null } });

    res = await reject(post(`${base}/reject`, { runId, imageIds: [imageIds[0]] }), params(projectId));
    expect(await res.json()).toEqual({ rejected: 1 });

    // Accept all is gated: no audit, no bulk accept (409, and nothing is written)...
    res = await accept(post(`${base}/accept`, { runId, classId: cat, minConfidence: 0.5 }), params(projectId));
    expect(res.status).toBe(409);
    const refused = await res.json();
    expect(refused.error).toMatchObject({ code: "conflict", gate: { status: "no_audit", open: false, required: 73 } });
    expect(refused.error.message).toContain("audit 73 to accept all");
    res = await summary(get(`${base}/summary?threshold=0.9`), params(projectId));
    expect((await res.json()).total).toBe(2);

    // ...unless the request says override, which the labels then carry.
    res = await accept(post(`${base}/accept`, { runId, classId: cat, minConfidence: 0.5, override: true }), params(projectId));
    expect(await res.json()).toMatchObject({ accepted: 2, actionId: expect.any(Number) });
  });

  it("samples for an audit and records the answers; the 409 then says how many more to audit", async () => {
    const base = `/api/projects/${projectId}/proposals`;
    const patched = await patchProject(new Request(`http://localhost/api/projects/${projectId}`, { method: "PATCH", body: JSON.stringify({ targetPrecision: 0.5 }), headers: { "content-type": "application/json" } }), params(projectId));
    expect((await patched.json()).project.targetPrecision).toBe(0.5);
    let res = await audit(get(`${base}/audit?threshold=0.9&classId=${cat}&size=2`), params(projectId));
    const sample = await res.json();
    expect(sample.items).toHaveLength(2);
    res = await auditPost(post(`${base}/audit`, { runId, floor: 0.9, answers: sample.items.map((i: { imageId: number }) => ({ imageId: i.imageId, classId: cat })) }), params(projectId));
    expect(await res.json()).toMatchObject({ answered: 2, correct: 2 });
    // 2 of 2 right only show >= 34%: two more right answers would be needed for 50%.
    res = await accept(post(`${base}/accept`, { runId, classId: cat, minConfidence: 0.9 }), params(projectId));
    expect(res.status).toBe(409);
    expect((await res.json()).error).toMatchObject({ gate: { status: "too_few", n: 2, more: 2 }, message: expect.stringContaining("audit 2 more") });
    // A bad answer is a 400 naming the field.
    res = await auditPost(post(`${base}/audit`, { runId, floor: 0.9, answers: [] }), params(projectId));
    expect(res.status).toBe(400);
    res = await patchProject(new Request(`http://localhost/api/projects/${projectId}`, { method: "PATCH", body: JSON.stringify({ targetPrecision: 1 }), headers: { "content-type": "application/json" } }), params(projectId));
    expect(res.status).toBe(400);
  });

  it("answers 400 for a missing classId and 404 for an unknown run", async () => {
    const base = `/api/projects/${projectId}/proposals`;
    expect((await list(get(base), params(projectId))).status).toBe(400);
    expect((await accept(post(`${base}/accept`, { runId: 999, imageIds: [1] }), params(projectId))).status).toBe(404);
  });

  it("names the bad field of an accept body (not just 'Invalid input')", async () => {
    const url = `/api/projects/${projectId}/proposals/accept`;
    let res = await accept(post(url, { runId, imageIds: ["x"] }), params(projectId));
    expect(res.status).toBe(400);
    let error = (await res.json()).error;
    expect(error.field).toBe("imageIds.0");
    expect(error.message).toMatch(/^imageIds\.0: /);
    res = await accept(post(url, { runId, classId: cat, minConfidence: 7 }), params(projectId));
    error = (await res.json()).error;
    expect(error.field).toBe("minConfidence");
  });
});

