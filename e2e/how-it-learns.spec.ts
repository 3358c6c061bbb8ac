import fs from "node:fs";
import path from "node:path";
import sharp from "sharp";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { e2eTempDir } from "./fixtures";
import { makeBrightDarkSet } from "./fixtures-train";

/**
 * "How it learns" and the augmentation preview against the built app and a real worker: a short
 * run on generated images records a sample event (the worker records every 25th step and the last),
 * whose strip shows images masked in and masked out; then "flip" is turned off in the preview, and
 * neither the preview's views nor the next run's recorded weak and strong views are flipped.
 */

const PER_CLASS = 8;
const LABELED_PER_CLASS = 3;
const GRAY = 12;
const STEPS = 6;
/**
 * Where τ sits decides whether the strip has both kinds, so it is placed from measurements, not
 * hope. The run is seeded and the e2e server trains on single-threaded wasm (playwright.config.ts),
 * yet the step-6 confidences of the six samples still move between runs of the same suite (the
 * cause is not pinned down; the images' ids, and so the held-out split, depend on the specs run
 * before). Seen (2026-11-30), the last four in full suites:
 *   0.533 1.000 0.979 0.970 0.540 0.631 | 0.506 1.000 0.975 0.965 0.505 0.596
 *   0.550 0.997 0.970 0.969 0.545 0.541 | 0.777 1.000 0.984 0.983 0.976 0.981 (2 threads)
 *   0.528 1.000 0.989 0.989 0.503 0.517 | 0.739 0.999 0.971 0.956 0.962 0.694
 * Every run had one sample at >= 0.997 (an image as bright or dark as the labeled ones) and its
 * lowest at <= 0.777 (a mid-gray one): τ = 0.9 keeps ~0.1 from both. The test prints the
 * confidences, so a trainer change that moves them shows by how much.
 */
const THRESHOLD = 0.9;
const SEED = 1;

/** Mid-gray 32x32 PNGs (pixels 100-155), ambiguous between "bright" and "dark". */
async function makeGraySet(count: number): Promise<string[]> {
  const dir = e2eTempDir("gray");
  const files: string[] = [];
  for (let seed = 0; seed < count; seed++) {
    const size = 32;
    const px = Buffer.alloc(size * size * 3);
    for (let i = 0; i < px.length; i++) px[i] = 100 + ((seed * 97 + i * 13) % 56);
    const file = path.join(dir, `gray-${String(seed).padStart(2, "0")}.png`);
    fs.writeFileSync(file, await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer());
    files.push(file);
  }
  return files;
}

async function project(request: APIRequestContext): Promise<number> {
  const created = await request.post("/api/projects", { data: { name: "E2E how it learns", classes: [{ name: "bright" }, { name: "dark" }] } });
  expect(created.ok()).toBe(true);
  const projectId = (await created.json()).project.id as number;
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string }[];
  const classId = Object.fromEntries(classes.map((c) => [c.name, c.id]));
  const { bright, dark } = await makeBrightDarkSet(PER_CLASS);
  const gray = await makeGraySet(GRAY);
  const form = new FormData();
  for (const file of [...bright, ...dark, ...gray]) form.append("files", new Blob([fs.readFileSync(file)], { type: "image/png" }), path.basename(file));
  const uploaded = await request.post(`/api/projects/${projectId}/uploads`, { multipart: form });
  expect(uploaded.ok()).toBe(true);
  const added = (await uploaded.json()).added as { id: number; name: string }[];
  expect(added).toHaveLength(2 * PER_CLASS + GRAY);
  for (const cls of ["bright", "dark"]) {
    const imageIds = added.filter((a) => a.name.startsWith(cls)).slice(0, LABELED_PER_CLASS).map((a) => a.id);
    expect((await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds, classId: classId[cls] } })).ok()).toBe(true);
  }
  return projectId;
}

/** Starts a run through the API once nothing blocks one (the previous run's predict job may still hold the worker). */
async function startRun(request: APIRequestContext, projectId: number): Promise<number> {
  let runId: number | null = null;
  await expect
    .poll(
      async () => {
        const res = await request.post(`/api/projects/${projectId}/runs`, {
          data: { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: STEPS, batchSize: 8, mu: 2, threshold: THRESHOLD, seed: SEED } },
        });
        if (res.ok()) runId = (await res.json()).run.id as number;
        return res.status();
      },
      { timeout: 60_000, intervals: [1000] },
    )
    .toBeLessThan(300);
  return runId!;
}

type Sample = { maskedIn: boolean; weak: { opNames: string[]; confidence: number }; strong: { opNames: string[] } };
type Samples = { step: number | null; steps: number[]; threshold: number | null; samples: Sample[] };

async function samplesOf(request: APIRequestContext, runId: number, step?: number): Promise<Samples> {
  const res = await request.get(`/api/runs/${runId}/samples${step === undefined ? "" : `?step=${step}`}`);
  expect(res.ok()).toBe(true);
  return (await res.json()) as Samples;
}

/** The panel follows the newest run: waits for its card to show this run finished, and its last event recorded. */
async function waitForRun(page: Page, runId: number) {
  await expect(page.getByTestId("run-card")).toHaveAttribute("data-run-id", String(runId), { timeout: 30_000 });
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 120_000 });
  await expect(page.locator(`[data-testid="run-row"][data-run-id="${runId}"]`)).toHaveAttribute("data-status", "succeeded");
  await expect.poll(async () => (await samplesOf(page.request, runId)).step, { timeout: 10_000 }).toBe(STEPS);
}

test("how it learns: the strip shows masked-in and masked-out images; flip turned off in the preview is gone from the next run", async ({ page, request }) => {
  test.setTimeout(180_000);
  const projectId = await project(request);
  const firstRun = await startRun(request, projectId);

  await page.goto(`/projects/${projectId}`);
  await page.getByTestId("train-open").click();
  const panel = page.getByTestId("train-panel");
  await expect(panel).toBeVisible();
  await waitForRun(page, firstRun);

  // The API: one event at the last step, with τ and images on both sides of it.
  const first = await samplesOf(request, firstRun);
  expect(first.steps).toContain(STEPS);
  expect(first.threshold).toBe(THRESHOLD);
  expect(first.samples.length).toBeGreaterThan(1);
  // The margin on each side of τ, for whoever has to move THRESHOLD after a change to the trainer.
  console.info(`step ${STEPS} confidences vs τ ${THRESHOLD}: ${first.samples.map((s) => s.weak.confidence.toFixed(3)).join(" ")}`);
  // Masked in exactly when the weak view's confidence reaches τ, and both kinds are there.
  for (const s of first.samples) expect(s.maskedIn, `confidence ${s.weak.confidence}`).toBe(s.weak.confidence >= THRESHOLD);
  expect(first.samples.some((s) => s.maskedIn)).toBe(true);
  expect(first.samples.some((s) => !s.maskedIn)).toBe(true);

  // The strip shows that event: one card per sample, masked in and masked out.
  const how = panel.getByTestId("how-it-learns");
  await expect(how.getByTestId("samples-step")).toContainText(`Step ${STEPS}`);
  const cards = how.getByTestId("samples-strip").getByTestId("sample-card");
  await expect(cards).toHaveCount(first.samples.length);
  const maskedIn = cards.and(page.locator('[data-masked="in"]'));
  const maskedOut = cards.and(page.locator('[data-masked="out"]'));
  await expect(maskedIn).toHaveCount(first.samples.filter((s) => s.maskedIn).length);
  await expect(maskedOut).toHaveCount(first.samples.filter((s) => !s.maskedIn).length);
  await expect(maskedIn.first().getByTestId("sample-mask")).toContainText("masked in");
  await expect(maskedOut.first().getByTestId("sample-mask")).toContainText("masked out");
  await expect(cards.first().getByTestId("sample-weak")).toHaveJSProperty("complete", true);
  await expect(cards.first().getByTestId("strong-ops")).not.toHaveAttribute("data-ops", "");

  // Turn flip off in the preview: the saved toggle renders a new preview without flips.
  const preview = panel.getByTestId("augment-preview");
  await preview.locator("summary").click();
  await expect(preview.getByTestId("aug-flip")).toBeChecked();
  // A controlled checkbox: it shows the saved state once the PUT answers, so click and wait for it.
  await preview.getByTestId("aug-flip").click();
  await expect(preview.getByTestId("aug-flip")).not.toBeChecked();
  await expect(preview.getByTestId("aug-flip")).toBeEnabled();
  await expect.poll(async () => (await (await request.get(`/api/projects/${projectId}/augment-preview`)).json()).toggles.flip).toBe(false);
  await expect(preview.getByTestId("aug-grid")).toBeVisible({ timeout: 60_000 });
  const views = preview.getByTestId("aug-grid").locator('[data-testid="aug-weak"], [data-testid="aug-strong"]');
  await expect(views.first()).toBeVisible();
  const previewOps = await views.evaluateAll((els) => els.map((e) => e.getAttribute("data-ops") ?? ""));
  expect(previewOps.length).toBeGreaterThan(0);
  for (const ops of previewOps) expect(ops.split(",")).not.toContain("Flip");

  // The next run trains without flips: none of its recorded weak or strong views is flipped.
  // Started through the API, so the page is reloaded to pick it up (the runs list polls only while a run it knows is active).
  const secondRun = await startRun(request, projectId);
  await page.reload();
  await page.getByTestId("train-open").click();
  await waitForRun(page, secondRun);
  const second = await samplesOf(request, secondRun);
  const runConfig = (await (await request.get(`/api/runs/${secondRun}`)).json()).run.config;
  expect(JSON.stringify(runConfig)).toMatch(/"flip":false/);
  let recorded = 0;
  for (const step of second.steps) {
    for (const s of (await samplesOf(request, secondRun, step)).samples) {
      recorded++;
      expect(s.weak.opNames).not.toContain("Flip");
      expect(s.strong.opNames).not.toContain("Flip");
    }
  }
  expect(recorded).toBeGreaterThan(0);
  await expect(how.getByTestId("samples-step")).toContainText(`Step ${STEPS}`);
  await expect(how.getByTestId("samples-strip").getByTestId("sample-card")).toHaveCount(second.samples.length);
  const opsInStrip = await how.getByTestId("samples-strip").locator('[data-testid="weak-ops"], [data-testid="strong-ops"]').evaluateAll((els) => els.map((e) => e.getAttribute("data-ops") ?? ""));
  expect(opsInStrip.length).toBeGreaterThan(0);
  for (const ops of opsInStrip) expect(ops.split(",")).not.toContain("Flip");
});
