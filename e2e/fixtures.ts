import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import yauzl from "yauzl";
import yazl from "yazl";

/**
 * A new temporary folder for generated inputs and downloads. All of them live under one folder per
 * Playwright worker process, removed when that process exits, so a run leaves nothing in the temp dir.
 */
let tempRoot: string | null = null;
export function e2eTempDir(prefix: string): string {
  if (!tempRoot) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-e2e-"));
    process.on("exit", () => fs.rmSync(root, { recursive: true, force: true }));
    tempRoot = root;
  }
  return fs.mkdtempSync(path.join(tempRoot, `${prefix}-`));
}

/** A small PNG whose pixels differ per seed, so every file has its own content hash. */
export async function makePng(seed: number, size = 48): Promise<Buffer> {
  const px = Buffer.alloc(size * size * 3);
  for (let i = 0; i < size * size; i++) {
    px[i * 3] = (seed * 37 + i) % 256;
    px[i * 3 + 1] = (seed * 91) % 256;
    px[i * 3 + 2] = (seed * 53 + (i >> 3)) % 256;
  }
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

/** Writes `count` distinct PNGs, a corrupt JPEG and a byte-identical duplicate of the first image. */
export async function makeUploadSet(count: number): Promise<{ dir: string; files: string[] }> {
  const dir = e2eTempDir("upload");
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = path.join(dir, `image-${String(i).padStart(2, "0")}.png`);
    fs.writeFileSync(file, await makePng(i + 1));
    files.push(file);
  }
  const corrupt = path.join(dir, "corrupt.jpg");
  fs.writeFileSync(corrupt, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from("this is not really a jpeg")]));
  const duplicate = path.join(dir, "copy-of-image-00.png");
  fs.copyFileSync(files[0], duplicate);
  return { dir, files: [...files, corrupt, duplicate] };
}

/** An ImageFolder-style zip: <class>/<file>.png entries. */
export async function makeImageFolderZip(entries: { className: string; seed: number }[]): Promise<string> {
  const zip = new yazl.ZipFile();
  for (const { className, seed } of entries) zip.addBuffer(await makePng(1000 + seed), `${className}/sample-${seed}.png`);
  zip.end();
  const file = path.join(e2eTempDir("zip"), "labeled.zip");
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on("close", resolve).on("error", reject);
  });
  return file;
}

/** Entry names and bytes of a zip file on disk (yauzl's checks reject unsafe entry names). */
export function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out = new Map<string, Buffer>();
      zip.on("entry", (entry: yauzl.Entry) =>
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        }),
      );
      zip.on("end", () => resolve(out));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}
