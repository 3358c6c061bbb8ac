import fs from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { e2eTempDir, makePng, readZip } from "./fixtures";

test("export the labeled images as an ImageFolder zip from the project page", async ({ page }) => {
  const created = await page.request.post("/api/projects", {
    data: { name: "E2E export été", classes: [{ name: "cat" }, { name: "../dog" }] },
  });
  expect(created.ok()).toBe(true);
  const { project } = (await created.json()) as { project: { id: number } };
  const { classes } = (await (await page.request.get(`/api/projects/${project.id}`)).json()) as { classes: { id: number; name: string }[] };
  const classId = Object.fromEntries(classes.map((c) => [c.name, c.id]));

  const pngs = await Promise.all([1, 2, 3, 4, 5].map((seed) => makePng(500 + seed, 24)));
  const form = new FormData();
  pngs.forEach((png, i) => form.append("files", new File([new Uint8Array(png)], i === 4 ? "unlabeled.png" : `shot-${i}.png`, { type: "image/png" })));
  const uploaded = await page.request.post(`/api/projects/${project.id}/uploads`, { multipart: form });
  expect(uploaded.ok()).toBe(true);
  const { added } = (await uploaded.json()) as { added: { id: number; name: string }[] };
  expect(added).toHaveLength(5);
  const idOf = (name: string) => added.find((a) => a.name === name)!.id;
  for (const [names, cls] of [[["shot-0.png", "shot-1.png"], "cat"], [["shot-2.png", "shot-3.png"], "../dog"]] as const) {
    const res = await page.request.post(`/api/projects/${project.id}/labels`, { data: { imageIds: names.map(idOf), classId: classId[cls] } });
    expect(res.ok()).toBe(true);
  }

  await page.goto(`/projects/${project.id}`);
  const panel = page.getByTestId("export-panel");
  await expect(panel.getByTestId("export-count")).toHaveText("4 images");
  await panel.getByTestId("export-val").fill("0.5");
  await expect(panel.getByTestId("export-count")).toHaveText("4 images (2 train, 2 val)");

  const downloading = page.waitForEvent("download");
  await panel.getByTestId("export-download").click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("E2E export été-dataset.zip");
  const file = path.join(e2eTempDir("export"), "dataset.zip");
  await download.saveAs(file);

  const entries = await readZip(file);
  const images = [...entries.keys()].filter((n) => /^(train|val)\//.test(n)).sort();
  // Hash-based split: one image of each class in val, and "../dog" stays a single safe folder.
  expect(images.map((n) => n.replace(/shot-[01]/, "shot-cat").replace(/shot-[23]/, "shot-dog"))).toEqual([
    "train/_dog/shot-dog.png",
    "train/cat/shot-cat.png",
    "val/_dog/shot-dog.png",
    "val/cat/shot-cat.png",
  ]);
  expect(entries.has("manifest.csv")).toBe(true);
  const manifest = entries.get("manifest.csv")!.toString("utf8").trim().split("\r\n");
  expect(manifest).toHaveLength(5);
  expect(manifest[0]).toMatch(/^path,split,class_index,class_name,sha256,/);
  // The bytes are the uploaded originals.
  const shot0 = images.find((n) => n.endsWith("/shot-0.png"))!;
  expect(entries.get(shot0)!.equals(pngs[0])).toBe(true);
  expect(JSON.parse(entries.get("labels.json")!.toString())).toEqual([
    { index: 0, name: "../dog", folder: "_dog", count: 2 },
    { index: 1, name: "cat", folder: "cat", count: 2 },
  ]);
});
