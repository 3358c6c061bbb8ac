import fs from "node:fs";
import path from "node:path";
import { expect, type Page } from "@playwright/test";
import sharp from "sharp";
import { e2eTempDir } from "./fixtures";

/**
 * Two classes a small CNN learns in a few steps: "bright" images (pixels 190-255) and "dark" ones
 * (0-65), 32x32, each with its own noise so every file has its own content hash.
 */
export async function makeBrightDarkSet(perClass: number): Promise<{ bright: string[]; dark: string[] }> {
  const dir = e2eTempDir("train");
  const write = async (name: string, base: number, seed: number) => {
    const size = 32;
    const px = Buffer.alloc(size * size * 3);
    for (let i = 0; i < px.length; i++) px[i] = base + ((seed * 131 + i * 17) % 66);
    const file = path.join(dir, `${name}-${String(seed).padStart(2, "0")}.png`);
    fs.writeFileSync(file, await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer());
    return file;
  };
  const bright: string[] = [];
  const dark: string[] = [];
  for (let i = 0; i < perClass; i++) {
    bright.push(await write("bright", 190, i));
    dark.push(await write("dark", 0, i));
  }
  return { bright, dark };
}

export async function openTrainPanel(page: Page, projectId: number): Promise<void> {
  await page.goto(`/projects/${projectId}`);
  await page.getByTestId("train-open").click();
  await expect(page.getByTestId("train-panel")).toBeVisible();
}

/** In an open train panel: quick-cpu with test-sized settings (B=8, mu=2: 40 images a step instead of 112). */
export async function fillQuickRun(page: Page, steps: number): Promise<void> {
  await page.getByTestId("train-preset").selectOption("quick-cpu");
  await page.getByTestId("train-advanced").locator("summary").click();
  await page.getByTestId("train-steps").fill(String(steps));
  await page.getByTestId("train-batchSize").fill("8");
  await page.getByTestId("train-mu").fill("2");
  await expect(page.getByTestId("train-button")).toBeEnabled();
}

/** Starts a fixmatch run from the project page's train panel (fillQuickRun's settings); returns the new run's id. */
export async function startRunFromPanel(page: Page, projectId: number, steps: number): Promise<number> {
  await openTrainPanel(page, projectId);
  await fillQuickRun(page, steps);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === `/api/projects/${projectId}/runs`),
    page.getByTestId("train-button").click(),
  ]);
  expect(response.status()).toBe(201);
  const runId = (await response.json()).run.id as number;
  // The panel follows the run it just started.
  await expect(page.getByTestId("run-card")).toHaveAttribute("data-run-id", String(runId));
  return runId;
}
