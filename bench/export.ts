/**
 * Dataset export: `npx tsx --expose-gc bench/export.ts [--n 5000] [--size 64] [--classes 10] [--val 0.2]`.
 * Builds a fresh temporary project of N generated PNGs (size x size noise, so as large as photos), labels them
 * round-robin into the classes (every 10th an accepted proposal), then downloads the export through
 * the same function the route calls, writing the zip to a temporary file, and prints:
 *   - time to first byte (plan: the label pages read + the val split, then the first zip bytes),
 *   - total time and throughput (MB/s, images/s),
 *   - peak RSS and heap above the level before the export (sampled every 5 ms),
 * then checks the zip with yauzl (entry count). Everything it writes is deleted at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import sharp from "sharp";
import yauzl from "yauzl";
import { exportDataset, exportQuery } from "@/lib/dataset/export";
import { closeDb, getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { insertImageUnlessPresent } from "@/lib/db/queries/images";
import { recordLabelChanges } from "@/lib/db/queries/labels";
import { createProject } from "@/lib/db/queries/projects";
import { resetEnvCache } from "@/lib/env";
import { hashFile, storeBlob } from "@/lib/storage";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "5000" },
    size: { type: "string", default: "64" },
    classes: { type: "string", default: "10" },
    val: { type: "string", default: "0.2" },
  },
});
const count = Number(values.n);
const size = Number(values.size);
const classCount = Number(values.classes);
for (const [flag, v] of [["--n", count], ["--size", size], ["--classes", classCount]] as const) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${flag} must be a positive integer`);
}

/** Stores N distinct PNGs as blobs and image rows, the way ingest would (without thumbnails). */
async function makeProject(tmp: string) {
  const db = getDb();
  migrateDb(db);
  const project = createProject(db, {
    name: "bench export",
    classes: Array.from({ length: classCount }, (_, i) => ({ name: `class-${i}` })),
  });
  const classIds = db.query.classes.findMany({ where: (c, { eq }) => eq(c.projectId, project.id) }).sync().map((c) => c.id);
  const file = path.join(tmp, "image.png");
  const pixels = Buffer.alloc(size * size * 3);
  const byClass = new Map<number, { human: number[]; proposal: number[] }>(classIds.map((id) => [id, { human: [], proposal: [] }]));
  for (let i = 0; i < count; i++) {
    // Noise, like a photo's bytes it does not compress, seeded by the image number (xorshift32),
    // so every file is as large as a real image of its size and no two hash alike.
    let x = (i + 1) * 2654435761;
    for (let p = 0; p < pixels.length; p++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      pixels[p] = x & 0xff;
    }
    const png = await sharp(pixels, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
    fs.writeFileSync(file, png);
    const sha256 = await hashFile(file);
    await storeBlob(sha256, file);
    const { image } = insertImageUnlessPresent(db, {
      projectId: project.id,
      sha256,
      originalName: `img_${String(i).padStart(5, "0")}.png`,
      sourcePath: "camera",
      format: "png",
      width: size,
      height: size,
      channels: 3,
      bytes: png.length,
      thumbStatus: "ready",
    });
    const group = byClass.get(classIds[i % classIds.length])!;
    (i % 10 === 9 ? group.proposal : group.human).push(image.id);
  }
  for (const [classId, { human, proposal }] of byClass) {
    recordLabelChanges(db, { projectId: project.id, imageIds: human, classId, source: "human", actor: "bench", kind: "set" });
    recordLabelChanges(db, {
      projectId: project.id,
      imageIds: proposal,
      classId,
      source: "accepted_proposal",
      actor: "bench",
      kind: "set",
      modelVersion: "p1-r1",
      confidence: 0.97,
    });
  }
  return project.id;
}

function zipEntryCount(file: string): Promise<number> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: false, autoClose: true }, (err, zip) => (err ? reject(err) : resolve(zip.entryCount))),
  );
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-export-"));
  try {
    process.env.FIXLABEL_DATA_DIR = path.join(tmp, "data");
    resetEnvCache();
    const setupStart = performance.now();
    const projectId = await makeProject(tmp);
    const setupS = (performance.now() - setupStart) / 1000;

    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = process.memoryUsage();
    let peakRss = before.rss;
    let peakHeap = before.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 5);

    const zipFile = path.join(tmp, "export.zip");
    const start = performance.now();
    const res = exportDataset(getDb(), projectId, exportQuery.parse({ val: values.val }));
    let firstByteMs = 0;
    let bytes = 0;
    const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
    body.on("data", (chunk: Buffer) => {
      if (bytes === 0) firstByteMs = performance.now() - start;
      bytes += chunk.length;
    });
    await pipeline(body, fs.createWriteStream(zipFile));
    const totalS = (performance.now() - start) / 1000;
    clearInterval(sampler);

    const entries = await zipEntryCount(zipFile);
    const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
    const cpus = os.cpus();
    console.log(`project:    ${count} PNGs ${size}x${size} in ${classCount} classes (every 10th an accepted proposal), made in ${setupS.toFixed(1)} s`);
    console.log(`export:     val=${values.val}: ${entries} zip entries (${count} images + README, labels.json, 2 manifests), ${mb(bytes)} MB`);
    console.log(`first byte: ${firstByteMs.toFixed(1)} ms (plan: label pages + split, then README/labels.json)`);
    console.log(`total:      ${totalS.toFixed(2)} s = ${mb(bytes / totalS)} MB/s = ${(count / totalS).toFixed(0)} images/s (written to a local file)`);
    console.log(`memory:     peak RSS +${mb(peakRss - before.rss)} MB, peak heap +${mb(peakHeap - before.heapUsed)} MB above the level before the export${gc ? "" : " (run with --expose-gc for a cleaner baseline)"}`);
    console.log(`machine:    ${cpus[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, Node ${process.version}, ${os.platform()}`);
    console.log(`reproduce:  npx tsx --expose-gc bench/export.ts --n ${count} --size ${size} --classes ${classCount} --val ${values.val}`);
    if (entries !== count + 4) throw new Error(`expected ${count + 4} entries, found ${entries}`);
    closeDb();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
