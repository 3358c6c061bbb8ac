import { expect, type Locator, type Page } from "@playwright/test";

/** Page object for a project's labeling page. */
export class ProjectPage {
  constructor(readonly page: Page) {}

  get projectId(): number {
    const m = /\/projects\/(\d+)/.exec(this.page.url());
    if (!m) throw new Error(`not on a project page: ${this.page.url()}`);
    return Number(m[1]);
  }

  tiles(): Locator {
    return this.page.getByTestId("tile");
  }

  tile(index: number): Locator {
    return this.tiles().nth(index);
  }

  classCount(classId: number): Locator {
    return this.page.getByTestId(`class-count-${classId}`);
  }

  async classIds(): Promise<Record<string, number>> {
    const res = await this.page.request.get(`/api/projects/${this.projectId}`);
    const body = (await res.json()) as { classes: { id: number; name: string }[] };
    return Object.fromEntries(body.classes.map((c) => [c.name, c.id]));
  }

  async upload(files: string[]): Promise<void> {
    await this.page.getByTestId("file-input").setInputFiles(files);
  }

  async expectCounts(counts: { total?: number; unlabeled?: number; byClass?: Record<number, number> }): Promise<void> {
    if (counts.total !== undefined) await expect(this.page.getByTestId("total-count")).toHaveText(String(counts.total));
    if (counts.unlabeled !== undefined) await expect(this.page.getByTestId("unlabeled-count")).toHaveText(String(counts.unlabeled));
    for (const [id, n] of Object.entries(counts.byClass ?? {})) await expect(this.classCount(Number(id))).toHaveText(String(n));
  }
}

/** Creates a project through the home page's form and lands on its page. */
export async function createProject(page: Page, name: string, classNames: string[]): Promise<ProjectPage> {
  await page.goto("/");
  await page.getByTestId("project-name").fill(name);
  for (let i = 0; i < classNames.length; i++) {
    const field = page.getByTestId(`class-name-${i}`);
    if ((await field.count()) === 0) await page.getByTestId("add-class").click();
    await page.getByTestId(`class-name-${i}`).fill(classNames[i]);
  }
  await page.getByTestId("create-project").click();
  await page.waitForURL(/\/projects\/\d+/);
  return new ProjectPage(page);
}
