import { expect, test } from "@playwright/test";
import { makeImageFolderZip, makeUploadSet } from "./fixtures";
import { createProject } from "./pages";

test("create a project, upload a pool, label with the keyboard, undo, reload, import an ImageFolder zip", async ({ page }) => {
  const project = await createProject(page, "E2E pets", ["cat", "dog", "bird"]);
  const ids = await project.classIds();
  expect(Object.keys(ids)).toEqual(["cat", "dog", "bird"]);

  // 30 generated images + a corrupt one + a byte-identical duplicate.
  const { files } = await makeUploadSet(30);
  await project.upload(files);
  const report = page.getByTestId("import-report");
  await expect(report).toContainText("Added 30");
  await expect(report).toContainText("Duplicates skipped 1");
  await expect(report).toContainText("Rejected 1");
  await expect(report).toContainText("corrupt.jpg");
  await project.expectCounts({ total: 30, unlabeled: 30 });
  await expect(project.tiles()).toHaveCount(30);

  // Label 6 images with the keyboard: focus the first, then 1,1,2,2,3,3 (each key moves on).
  await project.tile(0).click();
  for (const key of ["1", "1", "2", "2", "3", "3"]) await page.keyboard.press(key);
  await project.expectCounts({ unlabeled: 24, byClass: { [ids.cat]: 2, [ids.dog]: 2, [ids.bird]: 2 } });
  await expect(project.tile(0)).toHaveAttribute("data-label-class-id", String(ids.cat));
  await expect(project.tile(5)).toHaveAttribute("data-label-class-id", String(ids.bird));

  // Z undoes the last label.
  await page.keyboard.press("z");
  await project.expectCounts({ unlabeled: 25, byClass: { [ids.bird]: 1 } });
  await expect(project.tile(5)).toHaveAttribute("data-label-class-id", "");

  // The server is the truth: after a reload the labels and counts are the same.
  await page.reload();
  await project.expectCounts({ total: 30, unlabeled: 25, byClass: { [ids.cat]: 2, [ids.dog]: 2, [ids.bird]: 1 } });
  await expect(project.tile(0)).toHaveAttribute("data-label-class-id", String(ids.cat));
  await expect(project.tile(4)).toHaveAttribute("data-label-class-id", String(ids.bird));

  // An ImageFolder zip brings its labels (imported by the worker as a job).
  const zip = await makeImageFolderZip([
    { className: "cat", seed: 1 },
    { className: "cat", seed: 2 },
    { className: "dog", seed: 3 },
  ]);
  await project.upload([zip]);
  await project.expectCounts({ total: 33, unlabeled: 25, byClass: { [ids.cat]: 4, [ids.dog]: 3 } });
  const counts = await (await page.request.get(`/api/projects/${project.projectId}/counts`)).json();
  expect(counts.bySource).toEqual({ human: 5, imported: 3, accepted_proposal: 0 });
});

test("the API rejects a bad payload with the field, and never serves files outside the data folder", async ({ request }) => {
  const bad = await request.post("/api/projects", { data: { name: "x", classes: [{ name: "a", color: "red" }] } });
  expect(bad.status()).toBe(400);
  expect((await bad.json()).error.field).toBe("classes.0.color");
  for (const path of ["/api/images/..%2F..%2Fetc%2Fpasswd/original", "/api/images/1%2F..%2F..%2Fetc/thumb", "/api/images/-1/original"]) {
    // The image route itself answers, refusing the id: a 404 from a route that never matched would pass a weaker test.
    const res = await request.get(path);
    expect(res.status(), path).toBe(400);
    expect((await res.json()).error.field, path).toBe("imageId");
  }
});
