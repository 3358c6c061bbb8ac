/**
 * Import throughput: `npx tsx bench/import.ts [--n 2000] [--data DIR]` (DIR: cifar10-small, bench/datasets.ts).
 * Copies N JPEGs from <src>/train/<class>/ into a temporary ImageFolder, imports them into a fresh
 * temporary data folder through the same folder import the worker runs (hash, decode, thumbnail,
 * blob, row, label), then imports the folder again (every file a duplicate: hashing and lookups
 * only), and prints images/second for both; then times the grid API on a 20,000-image project
 * (bench/grid-api.ts). Everything it writes is deleted at the end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { importFolder } from "@/lib/dataset/folder";
import { closeDb, getDb } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { createProject } from "@/lib/db/queries/projects";
import { getEnv, resetEnvCache } from "@/lib/env";
import { images } from "@/lib/db/schema";
import { eq } from "drizzle-orm";
import { datasetDir } from "./datasets";
import { benchGridApi } from "./grid-api";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "2000" },
    data: { type: "string" },
  },
});
const wanted = Number(values.n);
if (!Number.isInteger(wanted) || wanted <= 0) throw new Error("--n must be a positive integer");

/** Picks files round-robin over the class folders, so every class is represented. */
function pickFiles(trainDir: string, n: number): { cls: string; file: string }[] {
  const byClass = fs
    .readdirSync(trainDir)
    .sort()
    .map((cls) => ({ cls, files: fs.readdirSync(path.join(trainDir, cls)).filter((f) => f.endsWith(".jpg")).sort() }));
  const picked: { cls: string; file: string }[] = [];
  for (let i = 0; picked.length < n && byClass.some((c) => i < c.files.length); i++) {
    for (const c of byClass) if (i < c.files.length && picked.length < n) picked.push({ cls: c.cls, file: c.files[i] });
  }
  return picked;
}

async function main() {
  const trainDir = path.join(datasetDir("cifar10-small", values.data), "train");
  if (!fs.existsSync(trainDir)) throw new Error(`no ${trainDir}: pass --src <folder with train/<class>/*.jpg>`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-bench-import-"));
  try {
    const folder = path.join(tmp, "images");
    const files = pickFiles(trainDir, wanted);
    for (const { cls, file } of files) {
      fs.mkdirSync(path.join(folder, cls), { recursive: true });
      fs.copyFileSync(path.join(trainDir, cls, file), path.join(folder, cls, file));
    }
    process.env.FIXLABEL_DATA_DIR = path.join(tmp, "data");
    resetEnvCache();
    const db = getDb();
    migrateDb(db);
    const project = createProject(db, { name: "bench" });

    const timed = async () => {
      const start = process.hrtime.bigint();
      const report = await importFolder(db, { projectId: project.id, folder, actor: "bench", restrictToImportRoot: false });
      return { report, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
    };
    const first = await timed();
    const again = await timed();

    const cpus = os.cpus();
    const rate = (count: number, s: number) => (count / s).toFixed(0);
    console.log(`images:     ${files.length} CIFAR-10 JPEGs (32x32) in ${first.report.classesCreated.length} class folders`);
    console.log(
      `import:     ${first.report.added} added, ${first.report.labeled} labeled, ${first.report.rejectedCount} rejected in ${first.seconds.toFixed(2)} s = ${rate(first.report.added, first.seconds)} images/s (hash + decode + ${getEnv().FIXLABEL_THUMB_SIZE}px webp thumbnail + blob + row + label)`,
    );
    console.log(
      `re-import:  ${again.report.duplicates} duplicates in ${again.seconds.toFixed(2)} s = ${rate(again.report.duplicates, again.seconds)} images/s (hash + lookup only)`,
    );
    const shas = db.select({ sha: images.sha256 }).from(images).where(eq(images.projectId, project.id)).all().map((r) => r.sha);
    const grid = await benchGridApi(db, shas);
    console.log(`grid API:   ${grid.size.toLocaleString("en")}-image project, ${grid.rounds} random offsets per filter, through the route handlers in process:`);
    for (const line of grid.lines) console.log(`            ${line}`);
    console.log(`machine:    ${cpus[0]?.model ?? "unknown CPU"}, ${os.availableParallelism()} cores, Node ${process.version}, ${os.platform()}`);
    console.log(`reproduce:  npx tsx bench/import.ts --n ${wanted}${values.data ? ` --data ${values.data}` : ""}`);
    closeDb();
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
