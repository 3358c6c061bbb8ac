import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeTestDb } from "@/lib/testing/db";
import { storeBlob } from "./blobs";
import { hashFile, newStagingPath, writeAtomically } from "./files";
import { blobPath, isInside, isSha256, stagingDir, thumbPath } from "./paths";

let dataDir: string;
let cleanup: () => void;
beforeEach(() => ({ dataDir, cleanup } = makeTestDb()));
afterEach(() => cleanup());

const SHA = "ab".repeat(32);

describe("storage paths", () => {
  it("places blobs and thumbnails by content address inside the data folder", () => {
    expect(blobPath(SHA)).toBe(path.join(dataDir, "blobs", "ab", "ab", SHA));
    expect(thumbPath(SHA)).toBe(path.join(dataDir, "thumbs", "ab", `${SHA}.webp`));
    expect(stagingDir()).toBe(path.join(dataDir, "staging"));
  });

  it("refuses anything that is not exactly 64 lowercase hex characters", () => {
    for (const bad of ["", "../../etc/passwd", SHA.toUpperCase(), `${SHA}0`, `${SHA.slice(0, 62)}/.`, `${SHA.slice(1)}\n`]) {
      expect(isSha256(bad)).toBe(false);
      expect(() => blobPath(bad)).toThrow(/sha256/);
      expect(() => thumbPath(bad)).toThrow(/sha256/);
    }
  });

  it("tells inside from outside without being fooled by name prefixes", () => {
    expect(isInside("/data", "/data/blobs/x")).toBe(true);
    expect(isInside("/data", "/data")).toBe(true);
    expect(isInside("/data", "/data-other/x")).toBe(false);
    expect(isInside("/data", "/data/../etc")).toBe(false);
  });
});

describe("blob store", () => {
  it("stores the original bytes under their hash, once", async () => {
    const src = path.join(dataDir, "src.bin");
    fs.writeFileSync(src, "hello");
    const sha = await hashFile(src);
    expect(sha).toBe("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    const dest = await storeBlob(sha, src);
    expect(fs.readFileSync(dest, "utf8")).toBe("hello");
    const mtime = fs.statSync(dest).mtimeMs;
    await storeBlob(sha, src);
    expect(fs.statSync(dest).mtimeMs).toBe(mtime);
  });

  it("leaves neither the target nor a temp file when a write fails half-way", async () => {
    const dest = path.join(dataDir, "blobs", "zz", "target");
    await expect(
      writeAtomically(dest, async (temp) => {
        fs.writeFileSync(temp, "half");
        throw new Error("killed");
      }),
    ).rejects.toThrow("killed");
    expect(fs.readdirSync(path.dirname(dest))).toEqual([]);
  });

  it("gives staging files generated names inside the staging folder", async () => {
    const a = await newStagingPath(".zip");
    const b = await newStagingPath();
    expect(path.dirname(a)).toBe(stagingDir());
    expect(a).toMatch(/[0-9a-f-]{36}\.zip$/);
    expect(a).not.toBe(b);
  });
});
