import fs from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { fillQuickRun, makeBrightDarkSet, openTrainPanel } from "./fixtures-train";

/**
 * Training from the project page against the built app and a real worker (wasm backend on a CPU).
 * Projects, images and labels are set up through the API; the training itself through the UI.
 */

const PER_CLASS = 12;
const LABELED_PER_CLASS = 3;

/** A project with classes "bright" and "dark", 12 images of each, 3 of each labeled. */
async function labeledProject(request: APIRequestContext, name: string): Promise<number> {
  const created = await request.post("/api/projects", { data: { name, classes: [{ name: "bright" }, { name: "dark" }] } });
  expect(created.ok()).toBe(true);
  const projectId = (await created.json()).project.id as number;
  const classes = ((await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string }[]);
  const classId = Object.fromEntries(classes.map((c) => [c.name, c.id]));

  const { bright, dark } = await makeBrightDarkSet(PER_CLASS);
  const form = new FormData();
  for (const file of [...bright, ...dark]) form.append("files", new Blob([fs.readFileSync(file)], { type: "image/png" }), path.basename(file));
  const uploaded = await request.post(`/api/projects/${projectId}/uploads`, { multipart: form });
  expect(uploaded.ok()).toBe(true);
  const added = (await uploaded.json()).added as { id: number; name: string }[];
  expect(added).toHaveLength(2 * PER_CLASS);

  for (const cls of ["bright", "dark"]) {
    const imageIds = added.filter((a) => a.name.startsWith(cls)).slice(0, LABELED_PER_CLASS).map((a) => a.id);
    const labeled = await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds, classId: classId[cls] } });
    expect(labeled.ok()).toBe(true);
  }
  return projectId;
}

async function startRun(page: Page, steps: number) {
  await fillQuickRun(page, steps);
  await page.getByTestId("train-button").click();
}

test("train a quick run from the project page: progress, live charts, a finished model version", async ({ page, request }) => {
  test.setTimeout(150_000);
  const projectId = await labeledProject(request, "E2E train quick");
  await openTrainPanel(page, projectId);

  // 20 steps: progress is reported at steps 10 and 20. The tiny model, distribution alignment and
  // a time budget (30 min: the 20 steps end first) are picked in the advanced settings and must
  // reach the worker's config.
  await fillQuickRun(page, 20);
  await page.getByTestId("train-model").selectOption("resnet-8x1");
  await page.getByTestId("train-distributionAlignment").check();
  await page.getByTestId("train-timeBudgetMinutes").fill("30");
  await expect(page.getByTestId("train-budget-hint")).toContainText("30m 0s of training or 20 steps");
  await page.getByTestId("train-button").click();
  await expect(page.getByTestId("run-status")).toHaveText(/queued|running/);
  await expect(page.getByTestId("train-button")).toBeDisabled();
  await expect(page.getByTestId("train-blocked")).toContainText("one run at a time");

  await expect(page.getByTestId("run-backend")).toContainText("Backend", { timeout: 60_000 });
  await expect(page.getByTestId("run-progress")).toContainText(/step \d+\/20 · 30m 0s budget/);
  await expect(page.getByTestId("chart-loss").locator(".recharts-wrapper")).toBeVisible({ timeout: 90_000 });
  await expect(page.getByTestId("chart-mask").locator(".recharts-wrapper")).toBeVisible();

  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 120_000 });
  // Held-out accuracy is evaluated at the last step.
  await expect(page.getByTestId("chart-accuracy").locator(".recharts-wrapper")).toBeVisible();
  const row = page.getByTestId("runs-list").getByTestId("run-row").first();
  await expect(row).toHaveAttribute("data-status", "succeeded");
  await expect(row).toContainText("20/20");
  await expect(page.getByTestId("train-button")).toBeEnabled();

  const runs = (await (await request.get(`/api/projects/${projectId}/runs`)).json()).runs;
  expect(runs).toHaveLength(1);
  expect(runs[0]).toMatchObject({ status: "succeeded", step: 20, totalSteps: 20, mode: "fixmatch", preset: "quick-cpu" });
  expect(runs[0].config.train).toMatchObject({ steps: 20, batchSize: 8, mu: 2, distributionAlignment: true, timeBudgetS: 1800, model: { kind: "resnet", width: 8, blocks: 1 } });
  expect(runs[0]).toMatchObject({ timeBudgetS: 1800, fraction: 1 });
  expect(runs[0].durationMs).toBeGreaterThan(0);
});

test("stop a long run: a second start is refused with 409 meanwhile, and the run ends as stopped", async ({ page, request }) => {
  test.setTimeout(120_000);
  const projectId = await labeledProject(request, "E2E train stop");
  await openTrainPanel(page, projectId);
  await startRun(page, 2000);
  await expect(page.getByTestId("run-status")).toHaveText("running", { timeout: 60_000 });

  const second = await request.post(`/api/projects/${projectId}/runs`, { data: { mode: "fixmatch", preset: "quick-cpu" } });
  expect(second.status()).toBe(409);
  expect((await second.json()).error.message).toMatch(/one run at a time/);

  await page.getByTestId("stop-run").click();
  await expect(page.getByTestId("run-status")).toHaveText("stopped", { timeout: 30_000 });
  await expect(page.getByTestId("stop-run")).toHaveCount(0);
  await expect(page.getByTestId("run-row").first()).toHaveAttribute("data-status", "stopped");
  await expect(page.getByTestId("train-button")).toBeEnabled();
});
