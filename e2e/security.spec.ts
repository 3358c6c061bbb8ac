import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { makePng } from "./fixtures";

/**
 * Local-first security and fault hygiene against the built app: hostile Host/Origin/Sec-Fetch-Site
 * headers, a real cross-site page in the browser, the bind check on `next start -H 0.0.0.0`, and
 * start.mjs restarting a worker killed with -9 while the web server stays up.
 */

const PORT = Number(process.env.E2E_PORT ?? 3100);
// Extra servers this spec starts itself, on ports next to the suite's.
const EVIL_PORT = PORT + 60;
const BIND_PORT = PORT + 61;
const SUPERVISED_PORT = PORT + 62;

type Reply = { status: number; body: string; headers: http.IncomingHttpHeaders };

/** A raw HTTP request with exactly the headers given (Host included), as an attacker's page or a rebinding DNS name would send. */
function raw(method: string, pathName: string, headers: Record<string, string>, body?: string, port = PORT): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: pathName, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function projectNames(): Promise<string[]> {
  const res = await raw("GET", "/api/projects", {});
  expect(res.status).toBe(200);
  return (JSON.parse(res.body).projects as { name: string }[]).map((p) => p.name);
}

test.describe("cross-site requests and DNS rebinding", () => {
  const own = `http://127.0.0.1:${PORT}`;
  const json = { "content-type": "application/json" };

  test("hostile headers are refused on reading and writing API routes; the app's own and plain clients pass", async () => {
    const body = JSON.stringify({ name: "pwned", classes: [] });
    // The attack: a "simple" text/plain POST from another site.
    let res = await raw("POST", "/api/projects", { "content-type": "text/plain", origin: "http://evil.example", "sec-fetch-site": "cross-site" }, body);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.code).toBe("forbidden");
    res = await raw("POST", "/api/projects", { ...json, origin: "http://evil.example" }, body);
    expect(res.status).toBe(403);
    res = await raw("POST", "/api/projects", { ...json, origin: "null" }, body);
    expect(res.status).toBe(403);
    // Another app on a different localhost port is another origin.
    res = await raw("POST", "/api/projects", { ...json, origin: `http://127.0.0.1:${EVIL_PORT}`, "sec-fetch-site": "same-site" }, body);
    expect(res.status).toBe(403);
    // Reading routes too.
    expect((await raw("GET", "/api/projects", { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await raw("GET", "/api/projects", { origin: "http://evil.example" })).status).toBe(403);
    // DNS rebinding: the attacker's name now points at 127.0.0.1, the Host header still says it.
    for (const host of [`evil.example:${PORT}`, "evil.example", `127.0.0.1.nip.io:${PORT}`, `127.0.0.1:${PORT + 1}`]) {
      res = await raw("GET", "/api/projects", { host });
      expect(res.status, host).toBe(403);
      expect(JSON.parse(res.body).error.message).toContain("host name");
    }
    expect((await raw("GET", "/", { host: `evil.example:${PORT}` })).status).toBe(403);
    expect(await projectNames()).not.toContain("pwned");

    // A client that is no browser (curl): no Origin; JSON only as application/json.
    res = await raw("POST", "/api/projects", { "content-type": "text/plain" }, body);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body).error.message).toContain("application/json");
    expect(await projectNames()).not.toContain("pwned");

    // The app's own origin, under each loopback name.
    res = await raw("POST", "/api/projects", { ...json, origin: own, "sec-fetch-site": "same-origin" }, JSON.stringify({ name: "E2E security own", classes: [] }));
    expect(res.status).toBe(201);
    res = await raw("GET", "/api/projects", { host: `localhost:${PORT}`, origin: `http://localhost:${PORT}`, "sec-fetch-site": "same-origin" });
    expect(res.status).toBe(200);
    // A page opened from a link on another site is fine (only the API refuses cross-site).
    expect((await raw("GET", "/login", { "sec-fetch-site": "cross-site" })).status).toBe(200);
  });

  test("PUT /api/projects answers 405 naming the allowed methods", async () => {
    const res = await raw("PUT", "/api/projects", json, "{}");
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe("GET, POST");
    expect(JSON.parse(res.body).error).toMatchObject({ code: "method_not_allowed", allowed: ["GET", "POST"] });
  });

  test("in a real browser: the app's own fetches, uploads and <img> thumbnails work; a page on another origin cannot post", async ({ page }) => {
    await page.goto("/login");
    await page.goto("/");
    const created = await page.evaluate(async () => {
      const res = await fetch("/api/projects", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "E2E security browser", classes: [] }) });
      return { status: res.status, body: await res.json() };
    });
    expect(created.status).toBe(201);
    const projectId = created.body.project.id as number;
    const png = (await makePng(4242)).toString("base64");
    const imageId = await page.evaluate(
      async ({ projectId, png }) => {
        const bytes = Uint8Array.from(atob(png), (c) => c.charCodeAt(0));
        const form = new FormData();
        form.append("files", new File([bytes], "one.png", { type: "image/png" }));
        const res = await fetch(`/api/projects/${projectId}/uploads`, { method: "POST", body: form });
        const out = await res.json();
        return out.added[0].id as number;
      },
      { projectId, png },
    );
    const width = await page.evaluate(
      (src) =>
        new Promise<number>((resolve) => {
          const img = new Image();
          img.onload = () => resolve(img.naturalWidth);
          img.onerror = () => resolve(-1);
          img.src = src;
          document.body.append(img);
        }),
      `/api/images/${imageId}/thumb`,
    );
    expect(width).toBeGreaterThan(0);

    // An attacker's page on another origin fires a no-cors "simple" POST at the app.
    const evil = http.createServer((_req, res) => {
      res.setHeader("content-type", "text/html");
      res.end(`<script>
        fetch("http://127.0.0.1:${PORT}/api/projects", { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ name: "pwned-by-page", classes: [] }) })
          .finally(() => { document.title = "sent"; });
      </script>`);
    });
    await new Promise<void>((r) => evil.listen(EVIL_PORT, "127.0.0.1", r));
    try {
      await page.goto(`http://127.0.0.1:${EVIL_PORT}/`);
      await expect(page).toHaveTitle("sent");
    } finally {
      evil.close();
    }
    expect(await projectNames()).not.toContain("pwned-by-page");
  });
});

/** Collects a child's output and waits for a line matching `re`. */
function watch(child: ChildProcess) {
  let out = "";
  const waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.slice(w.from).match(w.re);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  return {
    output: () => out,
    mark: () => out.length,
    waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray> {
      const m = out.slice(from).match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), timeoutMs);
        waiters.push({ re, from, resolve: (x) => (clearTimeout(t), resolve(x)) });
      });
    },
  };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1", ...extra };
  for (const k of ["FIXLABEL_TOKEN", "FIXLABEL_HOST", "FIXLABEL_IMPORT_ROOT", "PORT"]) if (!(k in extra)) delete env[k];
  return env;
}

test("next start -H 0.0.0.0 without a token refuses to start, whatever FIXLABEL_HOST says", async () => {
  test.setTimeout(120_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-bind-"));
  const child = spawn("node_modules/.bin/next", ["start", "-H", "0.0.0.0", "-p", String(BIND_PORT)], {
    env: cleanEnv({ FIXLABEL_DATA_DIR: dataDir, FIXLABEL_HOST: "127.0.0.1" }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = watch(child);
  const code = await new Promise<number | null>((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      resolve(null);
    }, 90_000);
    child.on("exit", (c) => (clearTimeout(t), resolve(c)));
  });
  fs.rmSync(dataDir, { recursive: true, force: true });
  expect(code, out.output()).toBe(1);
  expect(out.output()).toMatch(/FixLabel refuses to start: the web server listens on (0\.0\.0\.0|::)/);
});

test("start.mjs restarts a worker killed with -9, keeps the web server up, and cleans staging left by a crash", async () => {
  test.setTimeout(180_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-start-"));
  // Left behind as by kill -9: a partial upload of a dead web server, an entry of a job that never existed.
  fs.mkdirSync(path.join(dataDir, "staging"));
  const leftovers = ["p999999-3f1c2a7e-0000-4000-8000-000000000001.zip", "j4242a1-3f1c2a7e-0000-4000-8000-000000000002"];
  for (const f of leftovers) fs.writeFileSync(path.join(dataDir, "staging", f), "partial");
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    env: cleanEnv({ FIXLABEL_DATA_DIR: dataDir, FIXLABEL_PORT: String(SUPERVISED_PORT) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = watch(child);
  try {
    const [, webPid, workerPid] = (await out.waitFor(/web pid (\d+), worker pid (\d+)/, 30_000)).map(Number);
    await out.waitFor(/\[worker\] .* ready/, 60_000);
    const health = async () => (await raw("GET", "/api/health", { host: `127.0.0.1:${SUPERVISED_PORT}` }, undefined, SUPERVISED_PORT)).status;
    await expect.poll(() => health().catch(() => 0), { timeout: 90_000 }).toBe(200);
    expect(fs.readdirSync(path.join(dataDir, "staging"))).toEqual([]);
    // The printed worker pid is the worker itself (node with tsx's loader), not a wrapper with a child.
    expect(fs.readFileSync(`/proc/${workerPid}/cmdline`, "utf8").split("\0")).toEqual(expect.arrayContaining(["--import", "tsx", "worker/main.ts"]));

    const mark = out.mark();
    process.kill(workerPid, "SIGKILL");
    await out.waitFor(/worker was killed by SIGKILL; restarting it in 1 s/, 15_000, mark);
    const [, newPid] = (await out.waitFor(/\[start\] worker pid (\d+)/, 15_000, mark)).map(Number);
    expect(newPid).not.toBe(workerPid);
    await out.waitFor(/\[worker\] .* ready/, 60_000, mark);
    expect(alive(workerPid)).toBe(false);
    expect(alive(newPid)).toBe(true);
    expect(alive(webPid)).toBe(true);
    expect(await health()).toBe(200);
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
