import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { classes, images, labelEvents, labels } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { stagingDir } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { makeJpeg, makePng, makeProject, makeZip } from "./test-fixtures";
import { importZip } from "./zip";

let db: Db;
let dataDir: string;
let cleanup: () => void;
let projectId: number;
let work: string;

beforeEach(() => {
  ({ db, dataDir, cleanup } = makeTestDb());
  projectId = makeProject(db);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-zip-"));
});
afterEach(() => {
  cleanup();
  fs.rmSync(work, { recursive: true, force: true });
  for (const key of ["FIXLABEL_ZIP_MAX_BYTES", "FIXLABEL_ZIP_MAX_ENTRIES"]) delete process.env[key];
  resetEnvCache();
});

/** What is left in staging (the folder may not exist when nothing was staged). */
function stagedFiles(): string[] {
  return fs.existsSync(stagingDir()) ? fs.readdirSync(stagingDir()) : [];
}

async function importBuffer(zip: Buffer) {
  const zipPath = path.join(work, "upload.zip");
  fs.writeFileSync(zipPath, zip);
  return importZip(db, { projectId, zipPath, actor: "test" });
}

describe("importZip", () => {
  it("refuses entries that climb out, imports the rest, and writes nothing outside staging", async () => {
    const good = await makePng(12, 12, 1);
    const report = await importBuffer(
      await makeZip([
        { name: "x", hostileName: "../evil.jpg", data: await makeJpeg(8, 8, 2) },
        { name: "x", hostileName: "/abs.jpg", data: await makeJpeg(8, 8, 3) },
        { name: "x", hostileName: "C:/drive.jpg", data: await makeJpeg(8, 8, 4) },
        { name: "x", hostileName: "..\\back.jpg", data: await makeJpeg(8, 8, 5) },
        { name: "deep/er/nested/good.png", data: good },
        { name: "notes.txt", data: "readme" },
        { name: "__MACOSX/deep/._good.png", data: "mac" },
        { name: "deep/.DS_Store", data: "ds" },
      ]),
    );
    expect(report.added).toBe(1);
    expect(report.skipped).toBe(3);
    expect(report.rejected.map((r) => [r.name, r.reason])).toEqual([
      ["../evil.jpg", "the archive path climbs out of the archive (..)"],
      ["/abs.jpg", "absolute path in the archive"],
      ["C:/drive.jpg", "drive letter in the archive path"],
      ["../back.jpg", "the archive path climbs out of the archive (..)"],
    ]);
    const row = db.select().from(images).get()!;
    expect([row.originalName, row.sourcePath]).toEqual(["good.png", "deep/er/nested"]);

    for (const p of [path.join(dataDir, "evil.jpg"), path.join(path.dirname(dataDir), "evil.jpg"), path.join(stagingDir(), "..", "evil.jpg"), "/abs.jpg", path.join(process.cwd(), "..", "evil.jpg")]) {
      expect(fs.existsSync(p)).toBe(false);
    }
    expect(stagedFiles()).toEqual([]);
    expect(fs.readdirSync(dataDir).filter((f) => !f.startsWith("fixlabel.sqlite")).sort()).toEqual(["blobs", "staging", "thumbs"]);
  });

  it("stops an archive that inflates past FIXLABEL_ZIP_MAX_BYTES", async () => {
    process.env.FIXLABEL_ZIP_MAX_BYTES = "100000";
    resetEnvCache();
    const zip = await makeZip([{ name: "bomb.png", data: Buffer.alloc(5_000_000) }]);
    expect(zip.length).toBeLessThan(20_000);
    const report = await importBuffer(zip);
    expect(report.stopped).toMatch(/inflates to more than 0\.1 MiB \(FIXLABEL_ZIP_MAX_BYTES\)/);
    expect(report.added).toBe(0);
    expect(stagedFiles()).toEqual([]);
  });

  it("stops when the entries together pass the cap", async () => {
    process.env.FIXLABEL_ZIP_MAX_BYTES = "150000";
    resetEnvCache();
    const report = await importBuffer(
      await makeZip(Array.from({ length: 6 }, (_, i) => ({ name: `part${i}.png`, data: Buffer.alloc(60_000, i) }))),
    );
    expect(report.stopped).toMatch(/FIXLABEL_ZIP_MAX_BYTES/);
    expect(report.rejectedCount).toBeLessThanOrEqual(2); // the zeros are not images; at most two fit under the cap
  });

  it("does not trust declared sizes: an entry inflating past its declared size is refused", async () => {
    const zip = await makeZip([{ name: "liar.png", data: Buffer.alloc(5_000_000) }]);
    const central = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(10, central + 24); // uncompressed size in the central directory
    const report = await importBuffer(zip);
    expect(report.rejected).toEqual([{ name: "liar.png", reason: expect.stringMatching(/^damaged entry in the archive \(too many bytes/) }]);
    expect(stagedFiles()).toEqual([]);
  });

  it("refuses an archive with more entries than FIXLABEL_ZIP_MAX_ENTRIES before reading any", async () => {
    process.env.FIXLABEL_ZIP_MAX_ENTRIES = "3";
    resetEnvCache();
    const entries = await Promise.all([1, 2, 3, 4, 5].map(async (i) => ({ name: `${i}.png`, data: await makePng(4, 4, i) })));
    const report = await importBuffer(await makeZip(entries));
    expect(report.stopped).toBe("the archive has 5 entries, over the limit of 3 (FIXLABEL_ZIP_MAX_ENTRIES): nothing was imported");
    expect(db.select().from(images).all()).toHaveLength(0);
  });

  it("turns an ImageFolder layout into classes and imported labels with history", async () => {
    const report = await importBuffer(
      await makeZip([
        { name: "cats/a.png", data: await makePng(6, 6, 1) },
        { name: "dogs/b.png", data: await makePng(6, 6, 2) },
        { name: "dogs/c.jpg", data: await makeJpeg(6, 6, 3) },
      ]),
    );
    expect(report).toMatchObject({ total: 3, added: 3, labeled: 3, classesCreated: ["cats", "dogs"], stopped: null });
    expect(db.select().from(classes).all().map((c) => c.name).sort()).toEqual(["cats", "dogs"]);
    expect(db.select().from(labels).all().map((l) => l.source)).toEqual(["imported", "imported", "imported"]);
    const events = db.select().from(labelEvents).all();
    expect(events).toHaveLength(3);
    expect(new Set(events.map((e) => e.actionId)).size).toBe(1);
  });

  it("ignores a common wrapper folder and leaves an 'unlabeled' folder without labels", async () => {
    const report = await importBuffer(
      await makeZip([
        { name: "mydata/cats/a.png", data: await makePng(6, 6, 1) },
        { name: "mydata/unlabeled/b.png", data: await makePng(6, 6, 2) },
      ]),
    );
    expect(report).toMatchObject({ added: 2, labeled: 1, classesCreated: ["cats"] });
  });

  it("reports a file that is not a zip instead of failing", async () => {
    const report = await importBuffer(Buffer.from("this is not an archive"));
    expect(report.stopped).toMatch(/^not a readable zip archive/);
  });
});
