#!/usr/bin/env node
// `npm start`: runs the built web app and the worker side by side.
// Migrations run first (once), then both processes start. The worker is supervised: when it
// crashes (or is killed) it is started again after a back-off (1 s, doubling to 30 s; back to 1 s
// once a worker has stayed up a minute), with the reason in the log, and the web server stays up.
// When the web server exits, everything stops, so a supervisor (systemd, docker, a terminal) sees
// one process that lives or dies with the web server. The PIDs printed are the real processes
// (node running Next.js, node running the worker with tsx's loader), not wrappers.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const env = { NEXT_TELEMETRY_DISABLED: "1", ...process.env };
const host = env.FIXLABEL_HOST ?? "127.0.0.1";
const port = env.FIXLABEL_PORT ?? "3000";
const bin = (name) => path.join(root, "node_modules", ".bin", name);
/** node with tsx's loader in the same process: the pid we get is the program itself. */
const tsNode = (script) => [process.execPath, ["--import", "tsx", script]];

const log = (msg) => console.log(`[start] ${msg}`);

const [migrateCmd, migrateArgs] = tsNode("scripts/migrate.ts");
const migrated = spawnSync(migrateCmd, migrateArgs, { cwd: root, env, stdio: "inherit" });
if (migrated.status !== 0) process.exit(migrated.status ?? 1);

const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

let exiting = false;
let worker = null;
let workerStartedAt = 0;
let restartDelay = RESTART_MIN_MS;
let restartTimer = null;

// The `next` bin is a node script with a shebang: spawning it directly gives node's own pid.
const web = spawn(bin("next"), ["start", "-H", host, "-p", port], { cwd: root, env, stdio: "inherit" });

function startWorker() {
  restartTimer = null;
  const [cmd, args] = tsNode("worker/main.ts");
  worker = spawn(cmd, args, { cwd: root, env, stdio: "inherit" });
  workerStartedAt = Date.now();
  log(`worker pid ${worker.pid}`);
  worker.on("exit", (code, signal) => {
    worker = null;
    if (exiting) return;
    const reason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
    if (Date.now() - workerStartedAt >= STABLE_AFTER_MS) restartDelay = RESTART_MIN_MS;
    log(`worker ${reason}; restarting it in ${restartDelay / 1000} s (the web server stays up; a running job resumes once its lease expires)`);
    restartTimer = setTimeout(startWorker, restartDelay);
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
  });
}

startWorker();
console.log(`FixLabel: http://${host.includes(":") ? `[${host}]` : host}:${port} (web pid ${web.pid}, worker pid ${worker.pid})`);

function stopAll(code) {
  if (exiting) return;
  exiting = true;
  if (restartTimer) clearTimeout(restartTimer);
  const running = [web, worker].filter((c) => c && c.exitCode === null && c.signalCode === null);
  for (const c of running) c.kill("SIGTERM");
  setTimeout(() => process.exit(code), 10_000).unref();
  Promise.all(running.map((c) => new Promise((r) => c.once("exit", r)))).then(() => process.exit(code));
}

web.on("exit", (code, signal) => {
  if (!exiting) log(`web server ${signal ? `was killed by ${signal}` : `exited with code ${code}`}: stopping everything`);
  stopAll(code ?? 1);
});
process.on("SIGINT", () => stopAll(0));
process.on("SIGTERM", () => stopAll(0));
