#!/usr/bin/env node
// `npm start`: runs the built web app and the worker side by side, as one unit.
// Migrations run first (once), then both processes start; if either exits, the other is stopped,
// so a supervisor (systemd, docker, a terminal) sees one process that lives or dies as a whole.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const env = { NEXT_TELEMETRY_DISABLED: "1", ...process.env };
const host = env.FIXLABEL_HOST ?? "127.0.0.1";
const port = env.FIXLABEL_PORT ?? "3000";
const bin = (name) => path.join(root, "node_modules", ".bin", name);

const migrated = spawnSync(bin("tsx"), ["scripts/migrate.ts"], { cwd: root, env, stdio: "inherit" });
if (migrated.status !== 0) process.exit(migrated.status ?? 1);

const children = [
  spawn(bin("next"), ["start", "-H", host, "-p", port], { cwd: root, env, stdio: "inherit" }),
  spawn(bin("tsx"), ["worker/main.ts"], { cwd: root, env, stdio: "inherit" }),
];
console.log(`FixLabel: http://${host.includes(":") ? `[${host}]` : host}:${port} (web pid ${children[0].pid}, worker pid ${children[1].pid})`);

let exiting = false;
function stopAll(code) {
  if (exiting) return;
  exiting = true;
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 10_000).unref();
  Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.once("exit", r))))).then(() => process.exit(code));
}
for (const c of children) c.on("exit", (code) => stopAll(code ?? 1));
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
