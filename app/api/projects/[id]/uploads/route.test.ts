import fs from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { classes, images, jobs, labels } from "@/lib/db/schema";
import { makeJpeg, makePng, makeProject, makeZip } from "@/lib/dataset/test-fixtures";
import { resetEnvCache } from "@/lib/env";
import { stagingDir } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { POST } from "./route";

let db: Db;
let cleanup: () => void;
let projectId: number;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = makeProject(db);
});
afterEach(() => {
  cleanup();
  delete process.env.FIXLABEL_MAX_FILE_BYTES;
  resetEnvCache();
});

function post(body: BodyInit, id = String(projectId), headers?: HeadersInit) {
  return POST(new Request(`http://localhost/api/projects/${id}/uploads`, { method: "POST", body, headers }), {
    params: Promise.resolve({ id }),
  });
}

function form(files: [string, Buffer | string][], fields: Record<string, string> = {}): FormData {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  for (const [name, data] of files) fd.append("files", new File([typeof data === "string" ? data : new Uint8Array(data)], name));
  return fd;
}

const stagedFiles = () => (fs.existsSync(stagingDir()) ? fs.readdirSync(stagingDir()) : []);

describe("POST /api/projects/:id/uploads", () => {
  it("adds images, reports duplicates and rejects, keeping folder paths and unicode names", async () => {
    const png = await makePng(9, 9, 1);
    const res = await post(
      form([
        ["holiday/été 猫.png", png],
        ["holiday/copy.png", png],
        ["notes.jpg", "text, not a picture"],
      ]),
    );
    expect(res.status).toBe(200);
    const out = await res.json();
    expect(out.added).toEqual([{ id: expect.any(Number), name: "holiday/été 猫.png" }]);
    expect(out.duplicates).toEqual([{ name: "holiday/copy.png", imageId: out.added[0].id }]);
    expect(out.rejected).toEqual([{ name: "notes.jpg", reason: expect.stringMatching(/^not an image/) }]);
    expect(out.jobs).toEqual([]);
    const row = db.select().from(images).get()!;
    expect([row.originalName, row.sourcePath]).toEqual(["été 猫.png", "holiday"]);
    expect(stagedFiles()).toEqual([]);
  });

  it("labels from folders only when asked, skipping the picked folder itself", async () => {
    const res = await post(
      form(
        [
          ["picked/cats/a.png", await makePng(5, 5, 1)],
          ["picked/unlabeled/b.png", await makePng(5, 5, 2)],
          ["picked/c.png", await makePng(5, 5, 3)],
        ],
        { labelsFromFolders: "1" },
      ),
    );
    const out = await res.json();
    expect(out).toMatchObject({ labeled: 1, classesCreated: ["cats"] });
    expect(db.select().from(classes).all().map((c) => c.name)).toEqual(["cats"]);
    expect(db.select().from(labels).all()).toHaveLength(1);

    await post(form([["picked/dogs/d.png", await makePng(5, 5, 4)]]));
    expect(db.select().from(labels).all()).toHaveLength(1);
  });

  it("rejects a file over FIXLABEL_MAX_FILE_BYTES and goes on with the rest", async () => {
    process.env.FIXLABEL_MAX_FILE_BYTES = "2000";
    resetEnvCache();
    const out = await (
      await post(
        form([
          ["huge.jpg", Buffer.alloc(50_000, 7)],
          ["small.jpg", await makeJpeg(8, 8)],
        ]),
      )
    ).json();
    expect(out.rejected).toEqual([{ name: "huge.jpg", reason: expect.stringContaining("FIXLABEL_MAX_FILE_BYTES") }]);
    expect(out.added).toHaveLength(1);
    expect(stagedFiles()).toEqual([]);
  });

  it("stages a .zip and queues an import.zip job instead of unpacking it in the request", async () => {
    const zip = await makeZip([{ name: "a.png", data: await makePng(4, 4) }]);
    const out = await (await post(form([["batch.zip", zip]]))).json();
    expect(out.jobs).toEqual([{ id: expect.any(Number), name: "batch.zip" }]);
    expect(db.select().from(images).all()).toHaveLength(0);
    const job = db.select().from(jobs).get()!;
    const payload = job.payload as { zipPath: string; originalName: string; deleteAfter: boolean };
    expect([job.type, job.projectId, payload.originalName, payload.deleteAfter]).toEqual(["import.zip", projectId, "batch.zip", true]);
    expect(fs.readFileSync(payload.zipPath)).toEqual(zip);
    expect(stagedFiles()).toEqual([payload.zipPath.split("/").pop()]);
  });

  it("answers 404 for a missing project, 415 for a non-multipart body, 400 for a cut-off upload", async () => {
    expect((await post(form([]), "9999")).status).toBe(404);
    expect((await post(JSON.stringify({ a: 1 }), String(projectId), { "content-type": "application/json" })).status).toBe(415);

    const boundary = "----fixlabeltest";
    const cut = `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n${"x".repeat(100)}`;
    const res = await post(cut, String(projectId), { "content-type": `multipart/form-data; boundary=${boundary}` });
    expect(res.status).toBe(400);
    expect(stagedFiles()).toEqual([]);
  });
});
