import fs from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { makeBrightDarkSet } from "./fixtures-train";

/**
 * The pages that read a trained model against the built app and a real worker: "label next" (the
 * images the model is least sure about, labeled by key), "suspicious labels", and the model
 * versions page (held-out accuracy and the confusion matrix). A tiny run is trained through the runs
 * API; the pages are used through the UI.
 */

const PER_CLASS = 10;
const LABELED_PER_CLASS = 4;

async function trainedProject(
  request: APIRequestContext,
): Promise<{ projectId: number; classId: Record<string, number>; runId: number; added: { id: number; name: string }[]; files: { bright: string[]; dark: string[] } }> {
  const created = await request.post("/api/projects", { data: { name: "E2E insights", classes: [{ name: "bright" }, { name: "dark" }] } });
  expect(created.ok()).toBe(true);
  const projectId = (await created.json()).project.id as number;
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string }[];
  const classId = Object.fromEntries(classes.map((c) => [c.name, c.id]));
  const { bright, dark } = await makeBrightDarkSet(PER_CLASS);
  const form = new FormData();
  for (const file of [...bright, ...dark]) form.append("files", new Blob([fs.readFileSync(file)], { type: "image/png" }), path.basename(file));
  const added = (await (await request.post(`/api/projects/${projectId}/uploads`, { multipart: form })).json()).added as { id: number; name: string }[];
  expect(added).toHaveLength(2 * PER_CLASS);
  for (const cls of ["bright", "dark"]) {
    const imageIds = added.filter((a) => a.name.startsWith(cls)).slice(0, LABELED_PER_CLASS).map((a) => a.id);
    expect((await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds, classId: classId[cls] } })).ok()).toBe(true);
  }
  const run = await request.post(`/api/projects/${projectId}/runs`, {
    data: { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: 6, batchSize: 8, mu: 2 } },
  });
  expect(run.ok()).toBe(true);
  const runId = (await run.json()).run.id as number;
  // Training, then the predict job: the summary names the run once its predictions are written.
  await expect
    .poll(async () => (await (await request.get(`/api/projects/${projectId}/proposals/summary`)).json()).run?.id ?? null, { timeout: 150_000, intervals: [2000] })
    .toBe(runId);
  return { projectId, classId, runId, added, files: { bright, dark } };
}

test("after a run: label next by key, model accuracy and confusion matrix, a planted wrong label among the suspicious", async ({ page, request }) => {
  test.setTimeout(180_000);
  const { projectId, classId, runId, added, files } = await trainedProject(request);
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string; hotkey: string | null }[];
  const first = classes.find((c) => c.hotkey === "1")!;
  expect(first).toBeDefined();

  // Label next: the least certain unlabeled images; "1" labels the focused one, which stays, dimmed and marked.
  await page.goto(`/projects/${projectId}/next`);
  await expect(page.getByTestId("next-model")).toBeVisible();
  await expect(page.getByTestId("next-status")).toContainText(`of ${2 * (PER_CLASS - LABELED_PER_CLASS)} unlabeled`);
  const tiles = page.getByTestId("next-grid").getByTestId("next-tile");
  await expect(tiles.first()).toBeVisible();
  const pickCount = await tiles.count();
  expect(pickCount).toBeGreaterThan(1);
  const tile = tiles.first();
  const imageId = Number(await tile.getAttribute("data-image-id"));
  await tile.click();
  await expect(tile).toHaveAttribute("data-focused", "true");
  await page.keyboard.press("1");
  const labeled = page.locator(`[data-testid="next-tile"][data-image-id="${imageId}"]`);
  await expect(labeled.getByTestId("decision")).toHaveText(`→ ${first.name}`);
  await expect(labeled.locator("img")).toHaveClass(/opacity-30/);
  await expect
    .poll(async () => (await (await request.get(`/api/images/${imageId}`)).json()).label?.classId ?? null)
    .toBe(first.id);
  // The focus moved on past the labeled image.
  await expect(labeled).not.toHaveAttribute("data-focused", "true");
  // New picks: one unlabeled image fewer, and the labeled one is no longer offered.
  await page.getByTestId("next-refresh").click();
  await expect(page.getByTestId("next-status")).toContainText(`of ${2 * (PER_CLASS - LABELED_PER_CLASS) - 1} unlabeled`);
  await expect(labeled).toHaveCount(0);

  // Model versions: held-out accuracy as a percentage and a 2x2 confusion matrix of the held-out labels.
  await page.goto(`/projects/${projectId}/models`);
  await expect(page.getByTestId("model-versions").getByTestId("model-version").first()).toBeVisible();
  await expect(page.getByTestId("model-metrics")).toHaveAttribute("data-run-id", String(runId));
  await expect(page.getByTestId("model-accuracy")).toHaveText(/^not enough labels \(n=\d\)$/);
  // Calibration needs 10 held-out human labels; this run has 2, and the page says so instead of a curve.
  await expect(page.getByTestId("model-calibration")).toContainText("not enough labels (n=2)");
  const cells = page.getByTestId("confusion-matrix").getByTestId("confusion-cell");
  await expect(cells).toHaveCount(4);
  const counted = await cells.evaluateAll((els) => els.map((e) => ({ row: e.getAttribute("data-row"), count: Number(e.getAttribute("data-count")) })));
  const rows = new Set(counted.map((c) => c.row));
  expect(rows).toEqual(new Set([String(classId.bright), String(classId.dark)]));
  // Every held-out human label is counted once (the API's count comes from the run's own data split,
  // not from the predictions the matrix is made of), and the accuracy shown is the matrix's diagonal share.
  const metrics = (await (await request.get(`/api/runs/${runId}/metrics`)).json()) as { heldOutLabels: number | null };
  const total = counted.reduce((a, c) => a + c.count, 0);
  expect(metrics.heldOutLabels).toBeGreaterThan(0);
  expect(total).toBe(metrics.heldOutLabels);
  const diagonal = await cells.evaluateAll((els) => els.filter((e) => e.getAttribute("data-row") === e.getAttribute("data-col")).reduce((a, e) => a + Number(e.getAttribute("data-count")), 0));
  // The accuracy is the diagonal's share of those held-out human labels, and with this few of them
  // (fewer than 10) the page says so instead of a percentage.
  const accuracy = page.getByTestId("model-accuracy");
  await expect(accuracy).toHaveAttribute("title", `${diagonal} of ${total} held-out human labels`);
  expect(total).toBeLessThan(10);
  await expect(accuracy).toHaveText(`not enough labels (n=${total})`);

  // Suspicious labels: a bright image labeled "dark" on purpose. The one the model is surest is bright
  // is picked, so that its p(bright) reaches the mean p(bright) of the images labeled bright (the
  // class threshold of confident learning): it must be flagged, with "bright" as the suggestion.
  const { bright } = files;
  const pBright: number[] = [];
  for (const file of bright) {
    const res = await request.post(`/api/projects/${projectId}/predict?runId=${runId}`, { data: fs.readFileSync(file), headers: { "content-type": "image/png" } });
    expect(res.ok()).toBe(true);
    pBright.push(((await res.json()).probs as { classId: number; p: number }[]).find((p) => p.classId === classId.bright)!.p);
  }
  const surest = pBright.indexOf(Math.max(...pBright));
  expect(pBright[surest]).toBeGreaterThan(0.5);
  const planted = added.find((a) => a.name === path.basename(bright[surest]))!.id;
  expect((await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds: [planted], classId: classId.dark } })).ok()).toBe(true);
  await page.goto(`/projects/${projectId}/suspicious`);
  await expect(page.getByTestId("suspicious-model")).toBeVisible();
  await expect(page.getByTestId("suspicious-status")).toContainText(/label/);
  // Judged by heads that did not train on the label (the predict job wrote the out-of-fold probabilities).
  await expect(page.getByTestId("suspicious-method")).toHaveText(/^judged out of fold/);
  const flagged = page.getByTestId("suspicious-grid").locator(`[data-testid="suspicious-tile"][data-image-id="${planted}"]`);
  await expect(flagged).toBeVisible();
  await expect(flagged).toHaveAttribute("data-label-class-id", String(classId.dark));
  await expect(flagged).toHaveAttribute("data-suggested-class-id", String(classId.bright));
  await expect(flagged.getByTestId("suspicious-text")).toContainText("labeled dark · model says bright");
});
