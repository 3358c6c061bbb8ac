import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { eq } from "drizzle-orm";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { classes, images, labelActions, labelEvents, labels } from "@/lib/db/schema";
import { resetEnvCache } from "@/lib/env";
import { blobPath, thumbPath } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { ImportBatch, ingestFile, type IngestResult } from "./ingest";
import { makeJpeg, makePng, makeProject, writeFile } from "./test-fixtures";

let db: Db;
let cleanup: () => void;
let projectId: number;
let work: string;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = makeProject(db);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-ingest-"));
});
afterEach(() => {
  cleanup();
  fs.rmSync(work, { recursive: true, force: true });
  delete process.env.FIXLABEL_MAX_IMAGE_PIXELS;
  delete process.env.FIXLABEL_MAX_FILE_BYTES;
  resetEnvCache();
});

function ingest(file: string, extra: { label?: string; name?: string; batch?: ImportBatch } = {}) {
  return ingestFile(db, {
    projectId,
    filePath: file,
    originalName: extra.name ?? path.basename(file),
    sourcePath: "",
    label: extra.label,
    actor: "test",
    batch: extra.batch,
  });
}

function expectRejected(result: IngestResult, pattern: RegExp) {
  expect(result.status).toBe("rejected");
  if (result.status === "rejected") expect(result.reason).toMatch(pattern);
}

describe("ingestFile", () => {
  it("adds a JPEG and a PNG with their size, format, blob and thumbnail", async () => {
    const jpg = await ingest(writeFile(work, "a.jpg", await makeJpeg(40, 30)));
    const png = await ingest(writeFile(work, "b.png", await makePng(20, 50)));
    expect(jpg.status).toBe("added");
    expect(png.status).toBe("added");
    const rows = db.select().from(images).orderBy(images.id).all();
    expect(rows.map((r) => [r.originalName, r.format, r.width, r.height, r.channels, r.thumbStatus])).toEqual([
      ["a.jpg", "jpeg", 40, 30, 3, "ready"],
      ["b.png", "png", 20, 50, 3, "ready"],
    ]);
    for (const row of rows) {
      expect(fs.readFileSync(blobPath(row.sha256)).length).toBe(row.bytes);
      expect((await sharp(thumbPath(row.sha256)).metadata()).format).toBe("webp");
    }
  });

  it("applies EXIF orientation 6: width and height swap and the thumbnail is turned upright", async () => {
    // 64x48 stored pixels, blue with a red top-left corner; orientation 6 = turn 90° clockwise to view.
    const raw = Buffer.alloc(64 * 48 * 3);
    for (let y = 0; y < 48; y++)
      for (let x = 0; x < 64; x++) raw.set(x < 16 && y < 16 ? [255, 0, 0] : [0, 0, 255], (y * 64 + x) * 3);
    const jpeg = await sharp(raw, { raw: { width: 64, height: 48, channels: 3 } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    const result = await ingest(writeFile(work, "rotated.jpg", jpeg));
    expect(result.status).toBe("added");
    const row = db.select().from(images).get()!;
    expect([row.width, row.height]).toEqual([48, 64]);

    const thumb = sharp(thumbPath(row.sha256));
    const { data, info } = await thumb.raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([48, 64]);
    const pixel = (x: number, y: number) => [...data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)];
    // Turned clockwise, the stored top-left corner shows at the top-right.
    expect(pixel(info.width - 4, 4)[0]).toBeGreaterThan(200);
    expect(pixel(4, 4)[2]).toBeGreaterThan(200);
  });

  it("keeps one image per content and reports the duplicate with the first name", async () => {
    const bytes = await makePng(10, 10);
    const first = await ingest(writeFile(work, "one.png", bytes));
    const second = await ingest(writeFile(work, "two.png", bytes));
    expect(first.status).toBe("added");
    expect(second).toEqual({ status: "duplicate", imageId: (first as { imageId: number }).imageId, originalName: "one.png" });
    expect(db.select().from(images).all()).toHaveLength(1);
  });

  it("two concurrent imports of the same file give one image and one duplicate", async () => {
    const bytes = await makeJpeg(30, 30, 5);
    const results = await Promise.all([ingest(writeFile(work, "x.jpg", bytes)), ingest(writeFile(work, "y.jpg", bytes))]);
    expect(results.map((r) => r.status).sort()).toEqual(["added", "duplicate"]);
    expect(db.select().from(images).all()).toHaveLength(1);
  });

  it("rejects bad files with reasons a person can act on", async () => {
    const jpeg = await makeJpeg(64, 64, 3);
    const png = await makePng(64, 64, 4);
    const idat = png.indexOf("IDAT");
    const damagedPng = Buffer.from(png);
    for (let i = idat + 8; i < idat + 40; i++) damagedPng[i] ^= 0x5a;
    const bmp = Buffer.alloc(54 + 4 * 4 * 3);
    bmp.write("BM", 0);
    bmp.writeUInt32LE(bmp.length, 2);

    expectRejected(await ingest(writeFile(work, "empty.jpg", Buffer.alloc(0))), /empty \(0 bytes\)/);
    expectRejected(await ingest(writeFile(work, "notes.jpg", "just some text, not a photo")), /not an image/);
    expectRejected(await ingest(writeFile(work, "half.jpg", jpeg.subarray(0, jpeg.length >> 1))), /damaged or truncated/);
    expectRejected(await ingest(writeFile(work, "bad.png", damagedPng)), /damaged or truncated/);
    expectRejected(await ingest(writeFile(work, "old.bmp", bmp)), /BMP images are not supported/);
    expectRejected(
      await ingest(writeFile(work, "vector.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>')),
      /SVG is a vector format/,
    );
    expect(db.select().from(images).all()).toHaveLength(0);
    expect(fs.existsSync(path.join(process.env.FIXLABEL_DATA_DIR!, "blobs"))).toBe(false);
  });

  it("rejects images over the pixel limit and files over the byte limit", async () => {
    process.env.FIXLABEL_MAX_IMAGE_PIXELS = "1000";
    process.env.FIXLABEL_MAX_FILE_BYTES = "5000";
    resetEnvCache();
    expectRejected(
      await ingest(writeFile(work, "big.png", await makePng(40, 30))),
      /^image is 40x30 = 1200 pixels, over the limit of 1000 pixels$/,
    );
    const noisy = await sharp(Buffer.from(Array.from({ length: 50 * 50 * 3 }, (_, i) => (i * 7919) % 251)), {
      raw: { width: 50, height: 50, channels: 3 },
    })
      .png({ compressionLevel: 0 })
      .toBuffer();
    expect(noisy.length).toBeGreaterThan(5000);
    expectRejected(await ingest(writeFile(work, "heavy.png", noisy)), /over the limit of 4\.9 KB \(FIXLABEL_MAX_FILE_BYTES\)/);
  });

  it("keeps unicode names, strips control characters and caps long names at 255 bytes", async () => {
    await ingest(writeFile(work, "u.png", await makePng(8, 8, 1)), { name: "Kätzchen 猫\u0007\u202e.png" });
    await ingest(writeFile(work, "l.png", await makePng(8, 8, 2)), { name: `${"é".repeat(300)}.png` });
    const [unicode, long] = db.select().from(images).orderBy(images.id).all();
    expect(unicode.originalName).toBe("Kätzchen 猫.png");
    expect(Buffer.byteLength(long.originalName)).toBeLessThanOrEqual(255);
    expect(long.originalName.endsWith("é.png")).toBe(true);
  });

  it("labels through one import action, with label events, and labels an unlabeled duplicate", async () => {
    const batch = new ImportBatch(db, projectId, "test");
    const cat = await makePng(8, 8, 10);
    await ingest(writeFile(work, "c1.png", cat), { label: "cats", batch });
    await ingest(writeFile(work, "d1.png", await makePng(8, 8, 11)), { label: "Dogs", batch });
    await ingest(writeFile(work, "d2.png", await makePng(8, 8, 12)), { label: "dogs", batch });
    // Already labeled "cats": a later import does not overwrite it.
    await ingest(writeFile(work, "c1-again.png", cat), { label: "dogs", batch });

    expect(db.select().from(classes).orderBy(classes.position).all().map((c) => [c.name, c.position, c.hotkey])).toEqual([
      ["cats", 0, "1"],
      ["Dogs", 1, "2"],
    ]);
    expect(batch.classesCreated).toEqual(["cats", "Dogs"]);
    expect(batch.labeled).toBe(3);
    const actions = db.select().from(labelActions).all();
    expect(actions.map((a) => a.kind)).toEqual(["import"]);
    const rows = db.select().from(labels).all();
    expect(rows.every((l) => l.source === "imported" && l.actionId === actions[0].id)).toBe(true);
    const events = db.select().from(labelEvents).all();
    expect(events).toHaveLength(3);
    expect(events.every((e) => e.prevClassId === null && e.source === "imported" && e.actor === "test")).toBe(true);

    // A duplicate of an image with no label yet gets the label.
    const plain = await makePng(8, 8, 13);
    const first = await ingest(writeFile(work, "p.png", plain));
    await ingest(writeFile(work, "p2.png", plain), { label: "cats", batch });
    const label = db.select().from(labels).where(eq(labels.imageId, (first as { imageId: number }).imageId)).get();
    expect(label?.source).toBe("imported");
  });
});
