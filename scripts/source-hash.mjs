// Prints one hash of everything `next build` reads (app/, lib/, public/ and the root config files),
// from the files themselves, so a checkout that is not a git repository (a tarball) still rebuilds
// when its sources change. scripts/app.sh compares it with the hash of the last build.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const DIRS = ["app", "lib", "public"];
const ROOT_FILES = /^(package(-lock)?\.json|tsconfig\.json|next\.config\.\w+|postcss\.config\.\w+|instrumentation\.ts|middleware\.ts|proxy\.ts)$/;

function walk(rel, out) {
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) walk(child, out);
    else if (entry.isFile()) out.push(child);
  }
}

const files = fs.readdirSync(root, { withFileTypes: true }).filter((e) => e.isFile() && ROOT_FILES.test(e.name)).map((e) => e.name);
for (const dir of DIRS) if (fs.existsSync(path.join(root, dir))) walk(dir, files);
const hash = createHash("sha256");
for (const file of files.sort()) {
  // The path too: a renamed route is a changed app.
  hash.update(`${file.split(path.sep).join("/")}\0`);
  hash.update(fs.readFileSync(path.join(root, file)));
  hash.update("\0");
}
console.log(hash.digest("hex"));
