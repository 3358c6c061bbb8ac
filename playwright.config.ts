import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { defineConfig, devices } from "@playwright/test";

/**
 * The app's port: E2E_PORT, or else a free one, picked once. Playwright loads this file again in each
 * worker process; the pick is written to process.env, which the workers inherit, so the web server
 * and every test's baseURL agree, and two suites can run side by side.
 */
function e2ePort(): number {
  if (!process.env.E2E_PORT) {
    const probe = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
    process.env.E2E_PORT = execFileSync(process.execPath, ["-e", probe], { encoding: "utf8" }).trim();
  }
  const port = Number(process.env.E2E_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`E2E_PORT must be a port number, got "${process.env.E2E_PORT}"`);
  return port;
}
const PORT = e2ePort();
const DATA_DIR = path.resolve("e2e/.data/server");
export const E2E_IMPORT_ROOT = path.resolve("e2e/.data/import-root");

/**
 * Debian's chromium where it is installed (CI, root on Debian: Playwright cannot download its own
 * browser there), else Playwright's own browser (`npx playwright install chromium`).
 */
const chromiumPath = process.env.CHROMIUM_PATH ?? (fs.existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : undefined);

export default defineConfig({
  testDir: "e2e",
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  // A test that fails and then passes on its retry fails the run all the same: the retry only
  // tells "flaky" from "broken" in the report (with the failed attempt's trace kept).
  retries: process.env.CI ? 1 : 0,
  failOnFlakyTests: true,
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    ...devices["Desktop Chrome"],
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: chromiumPath,
      // Needed to run as root in a container, and on a machine with no outside network.
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
      ],
    },
  },
  // The built app and a real worker, on a fresh data folder each run.
  webServer: {
    command: `rm -rf "${DATA_DIR}" && mkdir -p "${E2E_IMPORT_ROOT}" && node scripts/start.mjs`,
    url: `http://127.0.0.1:${PORT}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      FIXLABEL_DATA_DIR: DATA_DIR,
      FIXLABEL_PORT: String(PORT),
      FIXLABEL_HOST: "127.0.0.1",
      FIXLABEL_IMPORT_ROOT: E2E_IMPORT_ROOT,
      FIXLABEL_JOB_LEASE_MS: "10000",
      // One backend everywhere, single-threaded, so a seeded run gives the same numbers on every
      // machine (how-it-learns.spec.ts): with threads, XNNPACK splits reductions by the core count.
      FIXLABEL_TF_BACKEND: "wasm",
      FIXLABEL_WASM_THREADS: "1",
      NEXT_TELEMETRY_DISABLED: "1",
    },
  },
});
