import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { classes, images, labels } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { AppError } from "@/lib/errors";
import { makeTestDb } from "@/lib/testing/db";
import { importFolder, resolveImportFolder } from "./folder";
import { makePng, makeProject, writeFile } from "./test-fixtures";

let db: Db;
let cleanup: () => void;
let projectId: number;
let work: string;
let root: string;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = makeProject(db);
  work = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-folder-")));
  root = path.join(work, "root");
  fs.mkdirSync(root);
  process.env.FIXLABEL_IMPORT_ROOT = root;
  resetEnvCache();
});
afterEach(() => {
  cleanup();
  fs.rmSync(work, { recursive: true, force: true });
  delete process.env.FIXLABEL_IMPORT_ROOT;
  resetEnvCache();
});

async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const run = (folder: string, restrictToImportRoot = true) =>
  importFolder(db, { projectId, folder, actor: "test", restrictToImportRoot });

describe("resolveImportFolder", () => {
  it("accepts folders inside the root, relative paths meaning relative to it", async () => {
    fs.mkdirSync(path.join(root, "set"));
    expect(await resolveImportFolder("set")).toEqual({ folder: path.join(root, "set"), root });
    expect((await resolveImportFolder(path.join(root, "set"))).folder).toBe(path.join(root, "set"));
  });

  it("forbids folders outside the root, also through .. and symlinks", async () => {
    fs.mkdirSync(path.join(work, "outside"));
    fs.symlinkSync(path.join(work, "outside"), path.join(root, "link"));
    for (const p of [path.join(work, "outside"), "../outside", "link", "/"]) {
      const err = await appErrorOf(resolveImportFolder(p));
      expect([err.code, err.message]).toEqual(["forbidden", expect.stringContaining("outside the import root")]);
    }
  });

  it("says what is wrong with a missing folder, a file, and an unset root", async () => {
    writeFile(root, "file.png", "x");
    expect((await appErrorOf(resolveImportFolder("nope"))).message).toBe("folder not found: nope");
    expect((await appErrorOf(resolveImportFolder("file.png"))).message).toMatch(/is a file, not a folder/);
    delete process.env.FIXLABEL_IMPORT_ROOT;
    resetEnvCache();
    const err = await appErrorOf(resolveImportFolder(root));
    expect([err.code, err.message]).toEqual(["forbidden", expect.stringContaining("set FIXLABEL_IMPORT_ROOT")]);
  });
});

describe("importFolder", () => {
  it("imports an ImageFolder tree with labels and skips links that leave the root", async () => {
    const set = path.join(root, "set");
    writeFile(set, "cats/a.png", await makePng(5, 5, 1));
    writeFile(set, "dogs/b.png", await makePng(5, 5, 2));
    writeFile(set, "dogs/.hidden.png", await makePng(5, 5, 3));
    writeFile(set, "dogs/labels.csv", "b.png,dog");
    writeFile(work, "secret/passwd.png", await makePng(5, 5, 4));
    fs.symlinkSync(path.join(work, "secret", "passwd.png"), path.join(set, "cats", "escape.png"));
    fs.symlinkSync(path.join(work, "secret"), path.join(set, "cats", "escape-dir"));
    fs.symlinkSync(path.join(set, "dogs", "b.png"), path.join(set, "cats", "inside-link.png"));

    const report = await run("set");
    expect(report.rejected).toEqual([
      { name: "cats/escape-dir", reason: "symbolic link to a place outside the import folder: skipped" },
      { name: "cats/escape.png", reason: "symbolic link to a place outside the import folder: skipped" },
    ]);
    expect(report).toMatchObject({ total: 3, added: 2, duplicates: 1, skipped: 2, labeled: 2 });
    // b.png and the link to it are one image, named and labeled after whichever of the two was read
    // first; "dogs" stays only when b.png came first (a class the import made and left empty is dropped).
    expect(db.select().from(images).all()).toHaveLength(2);
    const labelRows = db.select().from(labels).all();
    expect(labelRows).toHaveLength(2);
    const classNames = db.select().from(classes).all().map((c) => c.name).sort();
    expect(report.classesCreated.sort()).toEqual(classNames);
    expect(classNames).toContain("cats");
    expect(new Set(labelRows.map((l) => l.classId)).size).toBe(classNames.length);
  });

  it("refuses a folder outside the root unless run from the command line", async () => {
    writeFile(work, "elsewhere/a.png", await makePng(5, 5, 1));
    expect((await appErrorOf(run(path.join(work, "elsewhere")))).code).toBe("forbidden");
    expect((await run(path.join(work, "elsewhere"), false)).added).toBe(1);
  });

  it("stops early when progress asks to cancel, keeping what was imported", async () => {
    for (let i = 0; i < 12; i++) writeFile(root, `many/${i}.png`, await makePng(4, 4, i));
    const report = await importFolder(db, {
      projectId,
      folder: "many",
      actor: "test",
      restrictToImportRoot: true,
      onProgress: (done) => done >= 3,
    });
    expect(report.stopped).toBe("cancelled");
    expect(report.added).toBeGreaterThanOrEqual(3);
    expect(report.added).toBeLessThan(12);
  });
});
