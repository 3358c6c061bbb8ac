import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { resetEnvCache } from "@/lib/env";
import { makeTestDb } from "@/lib/testing/db";
import { POST } from "./route";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;
let root: string;

beforeEach(() => {
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
  root = path.join(fs.realpathSync(dataDir), "imports");
  fs.mkdirSync(path.join(root, "set"), { recursive: true });
  fs.writeFileSync(path.join(root, "file.jpg"), "x");
  process.env.FIXLABEL_IMPORT_ROOT = root;
  resetEnvCache();
});
afterEach(() => {
  cleanup();
  delete process.env.FIXLABEL_IMPORT_ROOT;
  resetEnvCache();
});

async function post(body: unknown, id = String(projectId)) {
  const res = await POST(
    new Request(`http://localhost/api/projects/${id}/imports/folder`, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    { params: Promise.resolve({ id }) },
  );
  return { status: res.status, json: await res.json() };
}

describe("POST /api/projects/:id/imports/folder", () => {
  it("queues an import.folder job with the folder's real path", async () => {
    const { status, json } = await post({ path: "set" });
    expect(status).toBe(200);
    expect(json.job).toMatchObject({ type: "import.folder", projectId, payload: { projectId, folder: path.join(root, "set") } });
  });

  it("answers 403 outside the root or with no root, 400 for a file or a missing folder, 404 for a missing project", async () => {
    expect((await post({ path: dataDir })).status).toBe(403);
    expect((await post({ path: "file.jpg" })).status).toBe(400);
    expect((await post({ path: "nope" })).json.error.message).toBe("folder not found: nope");
    expect((await post({})).status).toBe(400);
    expect((await post({ path: "set" }, "9999")).status).toBe(404);
    delete process.env.FIXLABEL_IMPORT_ROOT;
    resetEnvCache();
    const off = await post({ path: "set" });
    expect([off.status, off.json.error.message]).toEqual([403, expect.stringContaining("FIXLABEL_IMPORT_ROOT")]);
  });
});
