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

/**
 * Builds a zip in memory with yazl. yazl refuses hostile names, so `hostileName` entries are written
 * under a same-length placeholder that is then patched in the local and central headers, giving the
 * archive an attacker would send.
 */
export async function makeZip(entries: { name: string; data: Buffer | string; hostileName?: string }[]): Promise<Buffer> {
  const { ZipFile } = await import("yazl");
  const zip = new ZipFile();
  const patches: [Buffer, Buffer][] = [];
  entries.forEach((e, i) => {
    let name = e.name;
    if (e.hostileName) {
      const placeholder = `${String(i).padStart(e.hostileName.length, "Q")}`;
      if (placeholder.length !== e.hostileName.length) throw new Error("hostile name too short for a placeholder");
      patches.push([Buffer.from(placeholder), Buffer.from(e.hostileName)]);
      name = placeholder;
    }
    zip.addBuffer(Buffer.from(e.data), name);
  });
  zip.end();
  const chunks: Buffer[] = [];
  for await (const chunk of zip.outputStream) chunks.push(chunk as Buffer);
  const out = Buffer.concat(chunks);
  for (const [from, to] of patches) {
    for (let at = out.indexOf(from); at !== -1; at = out.indexOf(from, at + 1)) to.copy(out, at);
  }
  return out;
}
