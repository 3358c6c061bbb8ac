/**
 * `npm run import-folder -- --project <id|name> <folder>`: imports a folder of images straight into
 * the database (no worker, no web server needed) and prints the report.
 */
import { parseArgs } from "node:util";
import { importFolder } from "@/lib/dataset/folder";
import { progressMessage, type ImportReport } from "@/lib/dataset/report";
import { getDb, type Db } from "@/lib/db/client";
import { migrateDb } from "@/lib/db/migrate";
import { getProject, listProjects } from "@/lib/db/queries/projects";
import { AppError } from "@/lib/errors";

const HELP = `Usage: npm run import-folder -- --project <id|name> [--json] <folder>

Imports every image below <folder> into a FixLabel project (the database in FIXLABEL_DATA_DIR,
default ./data), with thumbnails. Duplicates (same bytes) are skipped; broken or oversized files are
listed with the reason.

Labels: if every image sits in a class folder (<folder>/<class>/<file>, optionally under one
wrapper folder), the folder names become classes and the images get "imported" labels. A folder
named "unlabeled" gives no label; any other layout imports without labels.

FIXLABEL_IMPORT_ROOT does not apply here: it limits what the web app may read on behalf of remote
users, while whoever runs this command can already read the files. Symbolic links that lead out of
<folder> are still skipped.

Options:
  --project, -p  project id or exact name (required)
  --json         print the report as JSON
  --help, -h     this text`;

function findProject(db: Db, ref: string) {
  if (/^\d+$/.test(ref)) return getProject(db, Number(ref));
  const matches = listProjects(db).filter((p) => p.name.toLowerCase() === ref.toLowerCase());
  if (matches.length === 1) return getProject(db, matches[0].id);
  if (matches.length === 0) throw new Error(`no project named "${ref}"`);
  throw new Error(`${matches.length} projects are named "${ref}": use the id (${matches.map((p) => p.id).join(", ")})`);
}

function printReport(report: ImportReport): void {
  console.log(
    `${report.total} image files: ${report.added} added, ${report.duplicates} duplicates, ${report.rejectedCount} rejected, ${report.skipped} other files skipped`,
  );
  if (report.labeled) console.log(`${report.labeled} labeled from folders; new classes: ${report.classesCreated.join(", ") || "none"}`);
  for (const r of report.rejected.slice(0, 50)) console.log(`  rejected ${r.name}: ${r.reason}`);
  if (report.rejectedCount > 50) console.log(`  … and ${report.rejectedCount - 50} more rejected (see --json)`);
  if (report.stopped) console.log(`stopped early: ${report.stopped}`);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      project: { type: "string", short: "p" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.project || positionals.length !== 1) {
    console.error(HELP);
    return 2;
  }
  const db = getDb();
  migrateDb(db);
  const project = findProject(db, values.project);
  let lastPrint = 0;
  const report = await importFolder(db, {
    projectId: project.id,
    folder: positionals[0],
    actor: "cli",
    restrictToImportRoot: false,
    onProgress: (done, total) => {
      if (Date.now() - lastPrint > 1000 || done === total) {
        lastPrint = Date.now();
        process.stderr.write(`\r${progressMessage(done, total)}`);
      }
    },
  });
  process.stderr.write("\n");
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else printReport(report);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof AppError || err instanceof Error ? `error: ${err.message}` : err);
    process.exit(1);
  },
);
