import fs from "node:fs";
import path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { makeBrightDarkSet, startRunFromPanel } from "./fixtures-train";

/**
 * Review of proposals against the built app and a real worker: a tiny run is trained through the
 * runs API (no test-only path into the app), then its proposals are accepted, rejected and undone
 * through the review page's keys and its accept-all button; a second run, started from the train
 * panel, then starts from the larger labeled set, as the model page shows.
 */

const PER_CLASS = 12;
const LABELED_PER_CLASS = 4;

async function trainedProject(request: APIRequestContext): Promise<{ projectId: number; runId: number }> {
  const created = await request.post("/api/projects", { data: { name: "E2E review", classes: [{ name: "bright" }, { name: "dark" }] } });
  expect(created.ok()).toBe(true);
  const projectId = (await created.json()).project.id as number;
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; name: string }[];
  const classId = Object.fromEntries(classes.map((c) => [c.name, c.id]));
  const { bright, dark } = await makeBrightDarkSet(PER_CLASS);
  const form = new FormData();
  for (const file of [...bright, ...dark]) form.append("files", new Blob([fs.readFileSync(file)], { type: "image/png" }), path.basename(file));
  const added = (await (await request.post(`/api/projects/${projectId}/uploads`, { multipart: form })).json()).added as { id: number; name: string }[];
  for (const cls of ["bright", "dark"]) {
    const imageIds = added.filter((a) => a.name.startsWith(cls)).slice(0, LABELED_PER_CLASS).map((a) => a.id);
    expect((await request.post(`/api/projects/${projectId}/labels`, { data: { imageIds, classId: classId[cls] } })).ok()).toBe(true);
  }
  const run = await request.post(`/api/projects/${projectId}/runs`, {
    data: { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: 10, batchSize: 8, mu: 2 } },
  });
  expect(run.ok()).toBe(true);
  const runId = (await run.json()).run.id as number;
  // Training, then the predict job: the summary names the run once its predictions are written.
  await expect
    .poll(async () => (await (await request.get(`/api/projects/${projectId}/proposals/summary`)).json()).run?.id ?? null, { timeout: 150_000, intervals: [2000] })
    .toBe(runId);
  return { projectId, runId };
}

/** "N labels: h by hand · a accepted · i imported" as the model page writes it, and the "M more held out" that follows. */
function parseTrainedOn(text: string | null): { total: number; human: number; accepted: number; imported: number; heldOut: number } {
  const m = /^(\d+) labels: (\d+) by hand · (\d+) accepted · (\d+) imported.*; (\d+) more held out/.exec(text ?? "");
  if (!m) throw new Error(`unexpected "trained on" text: ${text}`);
  const [total, human, accepted, imported, heldOut] = m.slice(1).map(Number);
  return { total, human, accepted, imported, heldOut };
}

test("review proposals: threshold, accept with A, undo with Z, reject with R, accept all; the next run starts from the larger labeled set", async ({ page, request }) => {
  test.setTimeout(360_000);
  const { projectId, runId } = await trainedProject(request);

  await page.goto(`/projects/${projectId}`);
  await page.getByTestId("review-link").click();
  await expect(page).toHaveURL(new RegExp(`/projects/${projectId}/review$`));

  // The lowest threshold: every unlabeled image is a proposal of some class.
  await page.getByTestId("review-threshold").fill("0.5");
  await expect(page.getByTestId("review-pass-count")).toContainText("pass");
  await expect(page.getByTestId("review-precision")).toBeVisible();
  const summary = await (await request.get(`/api/projects/${projectId}/proposals/summary?threshold=0.5`)).json();
  expect(summary.total).toBe(2 * (PER_CLASS - LABELED_PER_CLASS));
  const classWithMost = Object.entries(summary.byClass as Record<string, number>).sort((a, b) => b[1] - a[1])[0];
  await page.getByTestId(`review-class-tab-${classWithMost[0]}`).click();
  await expect(page.getByTestId("review-pass-count")).toHaveText(`${classWithMost[1]} image${classWithMost[1] === 1 ? "" : "s"} pass`);

  const tiles = page.getByTestId("review-grid").getByTestId("proposal-tile");
  await expect(tiles).toHaveCount(classWithMost[1]);
  const confidences = await tiles.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-confidence"))));
  expect(confidences).toEqual([...confidences].sort((a, b) => b - a));

  // A accepts the focused (first) proposal as an accepted_proposal label with the run's model version.
  const firstId = Number(await tiles.first().getAttribute("data-image-id"));
  await page.keyboard.press("a");
  await expect.poll(async () => (await (await request.get(`/api/images/${firstId}`)).json()).label?.source ?? null).toBe("accepted_proposal");
  // Z undoes it: the image is unlabeled and proposed again.
  await page.keyboard.press("z");
  await expect.poll(async () => (await (await request.get(`/api/images/${firstId}`)).json()).label).toBeNull();
  await expect(tiles.first()).toHaveAttribute("data-image-id", String(firstId));

  // R rejects it (a click selects it: the focus had moved on past the accepted image).
  await tiles.first().click();
  await page.keyboard.press("r");
  await expect(page.locator(`[data-testid="proposal-tile"][data-image-id="${firstId}"]`)).toHaveCount(0);

  // Accept all the rest of this class at once: without an audit (e2e/audit.spec.ts) only through the confirmed override.
  const rest = classWithMost[1] - 1;
  await expect(page.getByTestId("accept-all")).toBeDisabled();
  await expect(page.getByTestId("accept-all")).toHaveText("Accept all: audit 73 to accept all");
  page.once("dialog", (d) => d.accept());
  await page.getByTestId("accept-all-override").click();
  await expect(page.getByTestId("review-pass-count")).toHaveText("0 images pass");
  const counts = await (await request.get(`/api/projects/${projectId}/counts`)).json();
  expect(counts.bySource.accepted_proposal).toBe(rest);
  expect(counts.bySource.human).toBe(2 * LABELED_PER_CLASS);

  // The loop: a second run, started from the train panel after the accepts.
  const run2Id = await startRunFromPanel(page, projectId, 10);
  await expect(page.getByTestId("run-status")).toHaveText("succeeded", { timeout: 150_000 });

  // The model page: run 1 started from the hand labels alone, run 2 from those plus exactly the accepted proposals.
  const human = 2 * LABELED_PER_CLASS;
  await page.goto(`/projects/${projectId}/models`);
  await expect(page.getByTestId("model-version")).toHaveCount(2);
  const trainedOn = async (id: number, startedFrom: string) => {
    await page.locator(`[data-testid="model-version"][data-run-id="${id}"]`).click();
    await expect(page.getByTestId("model-metrics")).toHaveAttribute("data-run-id", String(id));
    await expect(page.getByTestId("model-started-from")).toHaveText(startedFrom);
    const t = parseTrainedOn(await page.getByTestId("model-trained-on").textContent());
    // Trained on plus held out is the whole set it started from.
    expect(t.total + t.heldOut).toBe(Number(/^Started from (\d+)/.exec(startedFrom)![1]));
    expect(t.total).toBe(t.human + t.accepted + t.imported);
    return t;
  };
  const first = await trainedOn(runId, `Started from ${human} labels: ${human} by hand · 0 accepted · 0 imported`);
  const second = await trainedOn(run2Id, `Started from ${human + rest} labels: ${human} by hand · ${rest} accepted · 0 imported`);
  expect(first.accepted).toBe(0);
  expect(second.total).toBeGreaterThan(first.total);
  // Some accepted proposals may be among the ones held out for evaluation, never more than were accepted.
  expect(second.accepted).toBeGreaterThan(0);
  expect(second.accepted).toBeLessThanOrEqual(rest);

  // The API the page reads says the same.
  const metrics2 = await (await request.get(`/api/runs/${run2Id}/metrics`)).json();
  expect(metrics2.startedFrom).toEqual({ human, accepted_proposal: rest, imported: 0, unknown: 0, total: human + rest });
});
