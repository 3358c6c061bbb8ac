import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type APIRequestContext } from "@playwright/test";
import { readZip } from "./fixtures";
import { makeBrightDarkSet } from "./fixtures-train";

/**
 * Audit before accept, against the built app and a real worker: after a tiny run (whose proposals
 * nobody has checked, so they may well be wrong half the time), "Accept all" is closed, in the page
 * and in the API, until a person has checked a random sample; an all-right audit opens it; a higher
 * target closes it again, and the override that then accepts is written into the export manifest.
 */

const PER_CLASS = 20;
const LABELED_PER_CLASS = 4;

async function trainedProject(request: APIRequestContext, name: string): Promise<{ projectId: number; runId: number }> {
  const created = await request.post("/api/projects", { data: { name, classes: [{ name: "bright" }, { name: "dark" }] } });
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
  const run = await request.post(`/api/projects/${projectId}/runs`, { data: { mode: "fixmatch", preset: "quick-cpu", overrides: { steps: 10, batchSize: 8, mu: 2 } } });
  expect(run.ok()).toBe(true);
  const runId = (await run.json()).run.id as number;
  await expect
    .poll(async () => (await (await request.get(`/api/projects/${projectId}/proposals/summary`)).json()).run?.id ?? null, { timeout: 150_000, intervals: [2000] })
    .toBe(runId);
  return { projectId, runId };
}

test("accept all needs an audit: closed without one, open after an all-right audit, override recorded in the export manifest", async ({ page, request }) => {
  test.setTimeout(300_000);
  const { projectId, runId } = await trainedProject(request, "E2E audit");
  // A 70% target needs 9 right answers (a 95% one would need 73: more proposals than this project has).
  expect((await request.patch(`/api/projects/${projectId}`, { data: { targetPrecision: 0.7 } })).ok()).toBe(true);

  await page.goto(`/projects/${projectId}/review`);
  await page.getByTestId("review-threshold").fill("0.5");
  const summary = await (await request.get(`/api/projects/${projectId}/proposals/summary?threshold=0.5`)).json();
  const [classId, proposed] = Object.entries(summary.byClass as Record<string, number>).sort((a, b) => b[1] - a[1])[0];
  expect(proposed).toBeGreaterThanOrEqual(PER_CLASS - LABELED_PER_CLASS);
  await page.getByTestId(`review-class-tab-${classId}`).click();
  await expect(page.getByTestId("review-pass-count")).toHaveText(`${proposed} images pass`);

  // No audit: the button is closed and says what is missing; the API refuses too.
  const acceptAll = page.getByTestId("accept-all");
  await expect(acceptAll).toBeDisabled();
  await expect(acceptAll).toHaveText("Accept all: audit 9 to accept all");
  await expect(page.getByTestId("audit-precision")).toHaveText("not audited at this threshold");
  const refused = await request.post(`/api/projects/${projectId}/proposals/accept`, { data: { runId, classId: Number(classId), minConfidence: 0.5 } });
  expect(refused.status()).toBe(409);
  expect((await refused.json()).error.message).toContain("audit 9 to accept all");

  // Check a sample: 9 random proposals of the class; the reviewer finds every one right (A).
  await page.getByTestId("audit-start").click();
  const tiles = page.getByTestId("audit-grid").getByTestId("proposal-tile");
  await expect(tiles).toHaveCount(9);
  const sampled = await tiles.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-image-id"))));
  await tiles.first().click();
  for (let i = 0; i < 9; i++) await page.keyboard.press("a");
  await expect(page.getByTestId("audit-status")).toHaveText("Checking a random sample: 9 of 9 answered (9 right)");
  // R has no place in an audit: it changes nothing.
  await page.keyboard.press("r");
  await page.getByTestId("audit-done").click();

  // Each answer is a human label from the audit.
  for (const id of sampled.slice(0, 3)) {
    const image = await (await request.get(`/api/images/${id}`)).json();
    expect(image.label).toMatchObject({ classId: Number(classId), source: "human" });
  }
  const rest = proposed - 9;
  await expect(page.getByTestId("audit-precision")).toHaveText(/^audited precision 100% \[7\d-100%\] \(n=9 checked\)$/);
  await expect(acceptAll).toBeEnabled();
  await expect(acceptAll).toHaveText(`Accept all ${rest} above threshold`);
  await expect(page.getByTestId("class-threshold")).toContainText("audited threshold for");

  // A 95% target closes it again: 9 right answers cannot show 95%.
  await page.getByTestId("target-precision").fill("95");
  await page.getByTestId("target-precision").press("Enter");
  await expect(acceptAll).toBeDisabled();
  await expect(acceptAll).toHaveText(/^Accept all: audit 64 more \(precision 100% \[7\d-100%\], n=9\)$/);

  // The override asks first, then accepts, and says so in the labels.
  page.once("dialog", (d) => d.accept());
  await page.getByTestId("accept-all-override").click();
  await expect(page.getByTestId("review-pass-count")).toHaveText("0 images pass");

  const res = await request.get(`/api/projects/${projectId}/export/dataset`);
  expect(res.ok()).toBe(true);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-audit-")), "dataset.zip");
  fs.writeFileSync(file, await res.body());
  const zip = await readZip(file);
  const rows = zip
    .get("manifest.jsonl")!
    .toString()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { label_source: string; label_via: string | null });
  expect(rows.filter((r) => r.label_via === "override")).toHaveLength(rest);
  expect(rows.filter((r) => r.label_via === "override").every((r) => r.label_source === "accepted_proposal")).toBe(true);
  expect(rows.filter((r) => r.label_via === "audit")).toHaveLength(9);
  expect(rows.filter((r) => r.label_via === null)).toHaveLength(2 * LABELED_PER_CLASS);
  expect(zip.get("manifest.csv")!.toString().split("\r\n")[0]).toContain("label_via");
});

test("a model the reviewer finds wrong half the time keeps accept all closed: precision and interval, raise the threshold or retrain", async ({ page, request }) => {
  test.setTimeout(300_000);
  const { projectId, runId } = await trainedProject(request, "E2E audit, half wrong");
  expect((await request.patch(`/api/projects/${projectId}`, { data: { targetPrecision: 0.7 } })).ok()).toBe(true);
  const classes = (await (await request.get(`/api/projects/${projectId}`)).json()).classes as { id: number; hotkey: string }[];

  await page.goto(`/projects/${projectId}/review`);
  await page.getByTestId("review-threshold").fill("0.5");
  const summary = await (await request.get(`/api/projects/${projectId}/proposals/summary?threshold=0.5`)).json();
  const [classId] = Object.entries(summary.byClass as Record<string, number>).sort((a, b) => b[1] - a[1])[0];
  const other = classes.find((c) => c.id !== Number(classId))!;
  await page.getByTestId(`review-class-tab-${classId}`).click();

  await page.getByTestId("audit-start").click();
  const tiles = page.getByTestId("audit-grid").getByTestId("proposal-tile");
  await expect(tiles).toHaveCount(9);
  const sampled = await tiles.evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-image-id"))));
  await tiles.first().click();
  // The first five are the other class (its hotkey), the last four are right (A).
  for (let i = 0; i < 5; i++) await page.keyboard.press(other.hotkey);
  for (let i = 0; i < 4; i++) await page.keyboard.press("a");
  await expect(page.getByTestId("audit-status")).toHaveText("Checking a random sample: 9 of 9 answered (4 right)");
  await page.getByTestId("audit-done").click();

  // The wrong ones carry the person's class, as human labels.
  await expect.poll(async () => (await (await request.get(`/api/images/${sampled[0]}`)).json()).label).toMatchObject({ classId: other.id, source: "human" });
  await expect(page.getByTestId("audit-precision")).toHaveText(/^audited precision 44% \[\d+-\d+%\] \(n=9 checked\)$/);
  await expect(page.getByTestId("accept-all")).toBeDisabled();
  await expect(page.getByTestId("accept-all")).toHaveText(/^Accept all: precision 44% \[\d+-\d+%\] \(n=9\): raise the threshold or retrain$/);
  await expect(page.getByTestId("class-threshold")).toHaveCount(0);
  const refused = await request.post(`/api/projects/${projectId}/proposals/accept`, { data: { runId, classId: Number(classId), minConfidence: 0.5 } });
  expect(refused.status()).toBe(409);
  expect((await refused.json()).error).toMatchObject({ gate: { status: "failing", n: 9, correct: 4 } });
});
