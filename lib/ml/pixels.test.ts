/** The pixel cache decodes each image once, in gray or RGB, and appends new images. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterAll, expect, it } from "vitest";
import { decodeForTraining, pixelCacheFiles, updatePixelCache, type Decoder } from "./pixels";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-pixels-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A solid-colour PNG of 10x6 pixels (not square: the cache stretches it). */
async function png(name: string, rgb: [number, number, number]): Promise<string> {
  const file = path.join(dir, name);
  await sharp({ create: { width: 10, height: 6, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } }).png().toFile(file);
  return file;
}

function counting(): { decode: Decoder; calls: () => number } {
  let calls = 0;
  return {
    decode: (file, size, channels) => {
      calls++;
      return decodeForTraining(file, size, channels);
    },
    calls: () => calls,
  };
}

it("decodes RGB and gray frames once, and appends new images", async () => {
  const red = await png("red.png", [200, 10, 20]);
  const gray = await png("gray.png", [90, 90, 90]);
  const files = pixelCacheFiles(dir, 7, 4, 3);
  expect(files.frames).toBe(path.join(dir, "cache", "7", "4-3.u8"));

  const first = counting();
  const rgb = await updatePixelCache({ files, size: 4, channels: 3, images: [{ id: 11, file: red }, { id: 12, file: gray }], decode: first.decode });
  expect(first.calls()).toBe(2);
  expect(rgb.ids).toEqual([11, 12]);
  expect(rgb.pixels.length).toBe(2 * 4 * 4 * 3);
  expect(Array.from(rgb.pixels.subarray(0, 6))).toEqual([200, 10, 20, 200, 10, 20]);
  expect(Array.from(rgb.pixels.subarray(48, 51))).toEqual([90, 90, 90]);

  // A cache hit reads the file and decodes nothing; a new image is decoded alone and appended.
  const second = counting();
  const blue = await png("blue.png", [0, 0, 255]);
  const again = await updatePixelCache({ files, size: 4, channels: 3, images: [{ id: 12, file: gray }, { id: 13, file: blue }, { id: 11, file: red }], decode: second.decode });
  expect(second.calls()).toBe(1);
  expect(again.ids).toEqual([11, 12, 13]);
  expect(again.frameOf.get(13)).toBe(2);
  expect(Array.from(again.pixels.subarray(0, 48))).toEqual(Array.from(rgb.pixels.subarray(0, 48)));
  expect(Array.from(again.pixels.subarray(96, 99))).toEqual([0, 0, 255]);

  // Grayscale is a separate cache: one byte per pixel, a luma of the colour.
  const grayCache = await updatePixelCache({ files: pixelCacheFiles(dir, 7, 4, 1), size: 4, channels: 1, images: [{ id: 12, file: gray }, { id: 11, file: red }] });
  expect(grayCache.pixels.length).toBe(2 * 16);
  expect(grayCache.pixels[0]).toBe(90);
  expect(new Set(grayCache.pixels.subarray(16)).size).toBe(1);
  expect(grayCache.pixels[16]).toBeGreaterThan(20);
  expect(grayCache.pixels[16]).toBeLessThan(200);
});

it("cuts off frames written after the last index update (a crash between the two)", async () => {
  const files = pixelCacheFiles(dir, 8, 2, 1);
  const white = await png("white.png", [255, 255, 255]);
  await updatePixelCache({ files, size: 2, channels: 1, images: [{ id: 1, file: white }] });
  fs.appendFileSync(files.frames, Buffer.from([1, 2, 3]));
  const cache = await updatePixelCache({ files, size: 2, channels: 1, images: [{ id: 1, file: white }] });
  expect(Array.from(cache.pixels)).toEqual([255, 255, 255, 255]);
});
