import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";

/**
 * Two classes a small CNN learns in a few steps: "bright" images (pixels 190-255) and "dark" ones
 * (0-65), 32x32, each with its own noise so every file has its own content hash.
 */
export async function makeBrightDarkSet(perClass: number): Promise<{ bright: string[]; dark: string[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-train-"));
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
