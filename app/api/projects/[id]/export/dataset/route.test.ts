import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { createClass } from "@/lib/db/queries/classes";
import { makeProject } from "@/lib/dataset/test-fixtures";
import { makeTestDb } from "@/lib/testing/db";
import { GET } from "./route";

let db: Db;
let cleanup: () => void;
let projectId: number;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = makeProject(db, "Chats & chiens");
});
afterEach(() => cleanup());

function get(query: string, id = String(projectId)) {
  return GET(new Request(`http://localhost/api/projects/${id}/export/dataset?${query}`), { params: Promise.resolve({ id }) });
}

describe("GET /api/projects/:id/export/dataset", () => {
  it("answers a bad choice with 400 naming the field", async () => {
    for (const [query, field] of [
      ["sources=human,robot", "sources.1"],
      ["sources=", "sources"],
      ["minConfidence=1.5", "minConfidence"],
      ["val=0.95", "val"],
      ["val=abc", "val"],
      ["classes=1,x", "classes.1"],
      ["classes=999", "classes"],
      ["dryRun=yes", "dryRun"],
    ]) {
      const res = await get(query);
      expect(res.status, query).toBe(400);
      expect((await res.json()).error.field, query).toBe(field);
    }
    expect((await get("", "12345")).status).toBe(404);
  });

  it("streams a zip download named after the project, or answers the counts with dryRun", async () => {
    createClass(db, projectId, { name: "cat" });
    const res = await get("sources=human&val=0.2");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/zip");
    expect(res.headers.get("content-disposition")).toBe(
      `attachment; filename="Chats & chiens-dataset.zip"; filename*=UTF-8''Chats%20%26%20chiens-dataset.zip`,
    );
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    expect(await (await get("dryRun=1")).json()).toEqual({ count: 0, train: 0, val: 0, byClass: {}, classes: [] });
  });
});
