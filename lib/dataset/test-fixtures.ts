import fs from "node:fs";
import path from "node:path";
import sharp, { type CreateRaw } from "sharp";
import type { Db } from "@/lib/db/client";
import { projects } from "@/lib/db/schema";

/** Test helpers: tiny images made from raw pixels, so tests need nothing from outside the repo. */

/** A w×h RGB image whose pixels differ by `seed`, so two calls with different seeds hash apart. */
export function rawPixels(width: number, height: number, seed = 0): { data: Buffer; info: CreateRaw } {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed * 31) % 256;
  return { data, info: { width, height, channels: 3 } };
}

export function makePng(width: number, height: number, seed = 0): Promise<Buffer> {
  const { data, info } = rawPixels(width, height, seed);
  return sharp(data, { raw: info }).png().toBuffer();
}

export function makeJpeg(width: number, height: number, seed = 0, orientation?: number): Promise<Buffer> {
  const { data, info } = rawPixels(width, height, seed);
  const img = sharp(data, { raw: info }).jpeg({ quality: 90 });
  return (orientation ? img.withMetadata({ orientation }) : img).toBuffer();
}

export function writeFile(dir: string, relative: string, bytes: Buffer | string): string {
  const file = path.join(dir, relative);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

export function makeProject(db: Db, name = "test"): number {
  return db.insert(projects).values({ name }).returning().get().id;
}
