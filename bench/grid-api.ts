/**
 * Grid API latency on a 20,000-image project, called through the real route handlers (zod parsing,
 * the token check, the query, JSON), in process, so the figure is the server's own time without
 * network or browser. Used by bench/import.ts, which prints it beside the import figures.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { GET as gridPage } from "@/app/api/projects/[id]/images/route";
import { GET as thumbnail } from "@/app/api/images/[imageId]/thumb/route";
import type { Db } from "@/lib/db/client";
import { setHumanLabels } from "@/lib/db/queries/labels";
import { createProject, getProjectWithClasses } from "@/lib/db/queries/projects";
import { images } from "@/lib/db/schema";
import { thumbPath } from "@/lib/storage";

const PAGE = 200;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Fills a project with `size` images whose thumbnails are copies of real ones (each row needs its
 * own content hash, so the copies get derived hashes), labels a third of them, then times random
 * pages of 200 (JSON) and the 200 thumbnails of a page.
 */
export async function benchGridApi(db: Db, sampleShas: string[], size = 20_000, rounds = 50) {
  const project = createProject(db, { name: "grid bench", classes: [{ name: "a" }, { name: "b" }, { name: "c" }] });
  const classIds = getProjectWithClasses(db, project.id).classes.map((c) => c.id);
  const ids: number[] = [];
  db.transaction(() => {
    for (let i = 0; i < size; i++) {
      const source = sampleShas[i % sampleShas.length];
      const sha = crypto.createHash("sha256").update(`${source}:${i}`).digest("hex");
      const thumb = thumbPath(sha);
      fs.mkdirSync(path.dirname(thumb), { recursive: true });
      fs.copyFileSync(thumbPath(source), thumb);
      const row = db
        .insert(images)
        .values({ projectId: project.id, sha256: sha, originalName: `img-${i}.jpg`, format: "jpeg", width: 32, height: 32, bytes: 1000, channels: 3, thumbStatus: "ready" })
        .returning({ id: images.id })
        .get();
      ids.push(row.id);
    }
  });
  for (let c = 0; c < 3; c++) {
    setHumanLabels(db, project.id, { imageIds: ids.filter((_, i) => i % 3 === c && i % 2 === 0), classId: classIds[c] }, "bench");
  }

  const params = <P>(p: P) => ({ params: Promise.resolve(p) });
  // Half of the images are labeled, a sixth per class (see above): the rows each filter can page over.
  const rows: Record<string, number> = { all: size, unlabeled: size / 2, class: size / 6 };
  const pageTimes: Record<string, number[]> = { all: [], unlabeled: [], class: [] };
  const thumbTimes: number[] = [];
  let rng = 1;
  const random = () => ((rng = (rng * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let r = 0; r < rounds; r++) {
    for (const filter of Object.keys(pageTimes)) {
      const offset = Math.floor(random() * (rows[filter] - PAGE));
      const query = `filter=${filter}${filter === "class" ? `&classId=${classIds[0]}` : ""}&offset=${offset}&limit=${PAGE}`;
      let body: { items: { id: number }[] } = { items: [] };
      pageTimes[filter].push(
        await timeMs(async () => {
          const res = await gridPage(new Request(`http://bench/api/projects/${project.id}/images?${query}`), params({ id: String(project.id) }));
          body = await res.json();
        }),
      );
      if (body.items.length !== PAGE) throw new Error(`page of ${body.items.length} items, expected ${PAGE}`);
      if (filter === "all") {
        thumbTimes.push(
          await timeMs(() =>
            Promise.all(
              body.items.map(async (item) => {
                const res = await thumbnail(new Request(`http://bench/api/images/${item.id}/thumb`), params({ imageId: String(item.id) }));
                if (res.status !== 200) throw new Error(`thumbnail ${item.id}: ${res.status}`);
                await res.arrayBuffer();
              }),
            ),
          ),
        );
      }
    }
  }
  const summary = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return `p50 ${percentile(sorted, 50).toFixed(1)} ms, p95 ${percentile(sorted, 95).toFixed(1)} ms`;
  };
  return {
    size,
    rounds,
    lines: [
      ...Object.entries(pageTimes).map(([f, xs]) => `grid page (${PAGE}, filter=${f}): ${summary(xs)}`),
      `200 thumbnails of a page: ${summary(thumbTimes)} (all 200 bodies read)`,
    ],
  };
}
