import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import yauzl from "yauzl";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { createClass } from "@/lib/db/queries/classes";
import { recordLabelChanges } from "@/lib/db/queries/labels";
import { classes, images, type LabelSource, type LabelVia } from "@/lib/db/schema";
import { blobPath, stagingDir } from "@/lib/storage";
import { makeTestDb } from "@/lib/testing/db";
import { exportDataset, exportQuery, type ExportQuery } from "./export";
import {
  attachmentDisposition,
  compareCodePoints,
  csvCell,
  imageFileParts,
  MAX_FILE_BYTES,
  MAX_FOLDER_BYTES,
  safeSegment,
  UniqueNames,
  valCount,
} from "./export-format";
import { ImportBatch, ingestFile } from "./ingest";
import { makeJpeg, makePng, makeProject } from "./test-fixtures";

let db: Db;
let cleanup: () => void;
let projectId: number;
let work: string;
let seed = 0;

beforeEach(() => {
  ({ db, cleanup } = makeTestDb());
  projectId = makeProject(db, "Pets");
  work = fs.mkdtempSync(path.join(os.tmpdir(), "fixlabel-export-"));
  seed = 0;
});
afterEach(() => {
  cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

/** A class inserted as it is, bypassing the API's checks: names can come from anywhere. */
function addClass(name: string): number {
  const position = db.select().from(classes).all().length;
  return db.insert(classes).values({ projectId, name, color: "#123456", position }).returning().get().id;
}

/** Ingests a generated image (its own pixels each call) under `name`; returns its id. */
async function addImage(name: string, opts: { format?: "png" | "jpeg"; sourcePath?: string; label?: string; batch?: ImportBatch } = {}) {
  seed++;
  const bytes = opts.format === "jpeg" ? await makeJpeg(12, 10, seed) : await makePng(10, 12, seed);
  const file = path.join(work, `upload-${seed}`);
  fs.writeFileSync(file, bytes);
  const result = await ingestFile(db, {
    projectId,
    filePath: file,
    originalName: name,
    sourcePath: opts.sourcePath ?? "",
    label: opts.label,
    actor: "importer",
    batch: opts.batch,
  });
  if (result.status !== "added") throw new Error(`not added: ${JSON.stringify(result)}`);
  return result.imageId;
}

function label(imageIds: number[], classId: number, source: LabelSource = "human", extra: { modelVersion?: string; confidence?: number; actor?: string; via?: LabelVia } = {}) {
  recordLabelChanges(db, { projectId, imageIds, classId, source, actor: extra.actor ?? "ana", kind: "set", ...extra });
}

type ZipEntry = { name: string; data: Buffer; compressionMethod: number };

function readZip(buffer: Buffer): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    // yauzl's default checks reject absolute paths, ".." segments and backslashes in entry names.
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (err, zip) => {
      if (err) return reject(err);
      const out: ZipEntry[] = [];
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("end", () => {
            out.push({ name: entry.fileName, data: Buffer.concat(chunks), compressionMethod: entry.compressionMethod });
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(out));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

async function exportZip(query: ExportQuery = {}) {
  const res = exportDataset(db, projectId, exportQuery.parse(query));
  expect(res.headers.get("content-type")).toBe("application/zip");
  const entries = await readZip(Buffer.from(await res.arrayBuffer()));
  const byName = new Map(entries.map((e) => [e.name, e]));
  const jsonl = byName
    .get("manifest.jsonl")!
    .data.toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { res, entries, byName, jsonl, csv: byName.get("manifest.csv")!.data.toString("utf8") };
}

const imagePaths = (entries: ZipEntry[]) => entries.map((e) => e.name).filter((n) => /^(train|val)\//.test(n));

/** A small RFC 4180 reader, so the CSV is checked as a spreadsheet would read it. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(cell), (cell = "");
    else if (ch === "\r" && text[i + 1] === "\n") row.push(cell), rows.push(row), (row = []), (cell = ""), i++;
    else cell += ch;
  }
  return rows;
}

describe("dataset export zip", () => {
  it("puts the original bytes in train/<class>/<file>, stored, with labels.json, README and deflated manifests", async () => {
    const cat = addClass("cat");
    const dog = addClass("dog");
    addClass("bird"); // no images: not exported, so ImageFolder never meets an empty class folder
    const a = await addImage("a.png");
    const b = await addImage("b.jpg", { format: "jpeg" });
    const c = await addImage("c.png");
    await addImage("unlabeled.png");
    label([a, b], cat);
    label([c], dog);

    const { res, entries, byName } = await exportZip();
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="Pets-dataset.zip"; filename*=UTF-8''Pets-dataset.zip`);
    expect(entries.map((e) => e.name)).toEqual([
      "README.txt",
      "labels.json",
      "train/cat/a.png",
      "train/cat/b.jpg",
      "train/dog/c.png",
      "manifest.csv",
      "manifest.jsonl",
    ]);
    const rows = db.select().from(images).all();
    for (const [id, entry] of [[a, "train/cat/a.png"], [b, "train/cat/b.jpg"], [c, "train/dog/c.png"]] as const) {
      const sha = rows.find((r) => r.id === id)!.sha256;
      expect(byName.get(entry)!.data.equals(fs.readFileSync(blobPath(sha)))).toBe(true);
      expect(byName.get(entry)!.compressionMethod).toBe(0);
    }
    expect(byName.get("manifest.csv")!.compressionMethod).toBe(8);
    expect(JSON.parse(byName.get("labels.json")!.data.toString())).toEqual([
      { index: 0, name: "cat", folder: "cat", count: 2 },
      { index: 1, name: "dog", folder: "dog", count: 1 },
    ]);
    expect(byName.get("README.txt")!.data.toString()).toContain("datasets.ImageFolder('train')");
    expect(byName.get("README.txt")!.data.toString()).toMatch(/label_via says how a label came in[\s\S]*override/);
  });

  it("writes one manifest row per image with its provenance, in CSV and JSON Lines", async () => {
    const catId = createClass(db, projectId, { name: "cat" }).id;
    const batch = new ImportBatch(db, projectId, "importer");
    const imported = await addImage("imp.png", { sourcePath: "pets/cat", label: "cat", batch });
    const human = await addImage("hum.png");
    const proposed = await addImage("prop.png");
    const audited = await addImage("aud.png");
    const overridden = await addImage("over.png");
    label([human], catId, "human", { actor: "ana" });
    label([proposed], catId, "accepted_proposal", { actor: "bo", modelVersion: "p1-r3", confidence: 0.875, via: "gate" });
    label([audited], catId, "human", { actor: "ana", via: "audit" });
    label([overridden], catId, "accepted_proposal", { actor: "bo", modelVersion: "p1-r3", confidence: 0.6, via: "override" });

    const { jsonl, csv } = await exportZip();
    const byName = new Map(jsonl.map((r) => [r.original_name, r]));
    expect(byName.get("imp.png")).toMatchObject({
      path: "train/cat/imp.png",
      split: "train",
      class_index: 0,
      class_name: "cat",
      source_folder: "pets/cat",
      label_source: "imported",
      model_version: null,
      confidence: null,
      labeled_by: "importer",
      width: 10,
      height: 12,
      format: "png",
    });
    expect(byName.get("hum.png")).toMatchObject({ label_source: "human", labeled_by: "ana", model_version: null, label_via: null });
    expect(byName.get("prop.png")).toMatchObject({ label_source: "accepted_proposal", labeled_by: "bo", model_version: "p1-r3", confidence: 0.875, label_via: "gate" });
    // Which labels came from an audit, and which through the gate's override.
    expect(byName.get("aud.png")).toMatchObject({ label_source: "human", label_via: "audit" });
    expect(byName.get("over.png")).toMatchObject({ label_source: "accepted_proposal", label_via: "override", confidence: 0.6 });
    const sha = db.select().from(images).all().find((r) => r.id === imported)!.sha256;
    expect(byName.get("imp.png")!.sha256).toBe(sha);
    expect(String(byName.get("hum.png")!.labeled_at)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const [header, ...rows] = parseCsv(csv);
    expect(header).toEqual(Object.keys(jsonl[0]));
    expect(rows).toHaveLength(5);
    expect(header).toContain("label_via");
    // The CSV says the same as the JSON Lines (numbers as text, null as empty).
    for (const row of rows) {
      const record = jsonl.find((r) => r.path === row[0])!;
      expect(row).toEqual(Object.values(record).map((v) => (v === null ? "" : String(v))));
    }
    expect(proposed).toBeGreaterThan(0);
  });

  it("filters by label source, by the confidence of accepted proposals, and by class", async () => {
    const cat = addClass("cat");
    const dog = addClass("dog");
    const [h1, h2, p1, p2, d1] = [await addImage("h1.png"), await addImage("h2.png"), await addImage("p1.png"), await addImage("p2.png"), await addImage("d1.png")];
    label([h1, h2], cat);
    label([p1], cat, "accepted_proposal", { modelVersion: "m1", confidence: 0.95 });
    label([p2], cat, "accepted_proposal", { modelVersion: "m1", confidence: 0.6 });
    label([d1], dog);
    const names = async (query: ExportQuery) => imagePaths((await exportZip(query)).entries).sort();

    expect(await names({ sources: "human" })).toEqual(["train/cat/h1.png", "train/cat/h2.png", "train/dog/d1.png"]);
    expect(await names({ sources: "accepted_proposal" })).toEqual(["train/cat/p1.png", "train/cat/p2.png"]);
    expect(await names({ minConfidence: "0.9" })).toEqual(["train/cat/h1.png", "train/cat/h2.png", "train/cat/p1.png", "train/dog/d1.png"]);
    expect(await names({ classes: String(dog) })).toEqual(["train/dog/d1.png"]);
    expect(await names({ classes: `${cat}`, sources: "human,imported" })).toEqual(["train/cat/h1.png", "train/cat/h2.png"]);

    const dry = await exportDataset(db, projectId, exportQuery.parse({ sources: "human", dryRun: "1" })).json();
    expect(dry).toMatchObject({ count: 3, train: 3, val: 0, byClass: { [cat]: 2, [dog]: 1 } });
    expect(() => exportDataset(db, projectId, exportQuery.parse({ classes: "999" }))).toThrow(/class 999 is not a class of this project/);
  });

  it("splits each class into train and val by a stable hash: >= 1 val image for every class with 2 or more", async () => {
    const many = addClass("many");
    const two = addClass("two");
    const one = addClass("one");
    const manyIds: number[] = [];
    for (let i = 0; i < 10; i++) manyIds.push(await addImage(`m${i}.png`));
    label(manyIds, many);
    label([await addImage("t1.png"), await addImage("t2.png")], two);
    label([await addImage("o1.png")], one);

    const split = async (query: ExportQuery) => {
      const { entries, jsonl } = await exportZip({ val: "0.2", ...query });
      expect(jsonl.map((r) => r.path).sort()).toEqual(imagePaths(entries).sort());
      return jsonl.map((r) => `${r.split} ${r.class_name} ${r.original_name}`).sort();
    };
    const first = await split({});
    const count = (prefix: string) => first.filter((s) => s.startsWith(prefix)).length;
    expect([count("val many"), count("train many")]).toEqual([2, 8]);
    expect([count("val two"), count("train two")]).toEqual([1, 1]);
    expect([count("val one"), count("train one")]).toEqual([0, 1]);
    // The same choices give the same split; another seed draws another one.
    expect(await split({})).toEqual(first);
    const seeds = await Promise.all([1, 2, 3, 4].map((s) => split({ seed: String(s) })));
    expect(seeds.some((s) => s.join() !== first.join())).toBe(true);
    const dry = await exportDataset(db, projectId, exportQuery.parse({ val: "0.2", dryRun: "true" })).json();
    expect(dry).toMatchObject({ count: 13, train: 10, val: 3 });
  });

  it("makes file names unique per folder (case-insensitively) and gives each file the extension of its real format", async () => {
    const cat = addClass("cat");
    const ids = [
      await addImage("photo.jpg", { format: "jpeg" }),
      await addImage("photo.jpg", { format: "jpeg" }),
      await addImage("PHOTO.JPG", { format: "jpeg" }),
      await addImage("photo.jpg"), // really a PNG
      await addImage("photo.png"),
      await addImage("scan.v2"), // no image extension: kept in the stem
    ];
    label(ids, cat);
    const { entries, jsonl } = await exportZip();
    expect(imagePaths(entries)).toEqual([
      "train/cat/photo.jpg",
      "train/cat/photo (2).jpg",
      "train/cat/PHOTO (3).jpg",
      "train/cat/photo.png",
      "train/cat/photo (2).png",
      "train/cat/scan.v2.png",
    ]);
    expect(jsonl.map((r) => r.original_name)).toEqual(["photo.jpg", "photo.jpg", "PHOTO.JPG", "photo.jpg", "photo.png", "scan.v2"]);
  });

  it("keeps hostile class and file names inside their folder", async () => {
    const hostile = [
      "../../etc",
      "a/b",
      "a:b",
      "a\\b",
      "..",
      ".",
      ".hidden",
      "CON",
      "nul.txt",
      "tab\there\u0000nul",
      "x".repeat(300),
      "é".repeat(200),
      "猫 🐱",
      "trailing. ",
      "\u202egpj.exe",
    ];
    for (const name of hostile) label([await addImage(`../../${name}.png`)], addClass(name));
    label([await addImage("/etc/passwd.png")], addClass("abs"));
    label([await addImage("..")], addClass("dotdot-file"));

    const { entries, jsonl } = await exportZip({ val: "0" });
    const folders = new Set<string>();
    for (const name of entries.map((e) => e.name)) {
      if (["README.txt", "labels.json", "manifest.csv", "manifest.jsonl"].includes(name)) continue;
      const parts = name.split("/");
      expect(parts).toHaveLength(3);
      const [split, folder, file] = parts;
      expect(split).toBe("train");
      for (const [segment, max] of [[folder, MAX_FOLDER_BYTES], [file, MAX_FILE_BYTES]] as const) {
        expect(segment).not.toMatch(/^[.\s]|[.\s]$|[\\/:*?"<>|\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
        expect(segment).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$/i);
        expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(max);
      }
      expect(path.resolve("/root/out", name).startsWith("/root/out/train/")).toBe(true);
      folders.add(folder.toLowerCase());
    }
    expect(folders.size).toBe(hostile.length + 2);
    const folderOf = (className: string) => String(jsonl.find((r) => r.class_name === className)!.path).split("/")[1];
    expect(["a/b", "a:b", "猫 🐱", "CON", "..", "../../etc", "\u202egpj.exe"].map(folderOf)).toEqual([
      "a_b",
      "a_b (2)",
      "猫 🐱",
      "_CON",
      "class",
      "_.._etc",
      "_gpj.exe",
    ]);
    expect(jsonl.find((r) => r.original_name === "../../a/b.png")!.path).toBe("train/a_b/_.._a_b.png");
    expect(jsonl.find((r) => r.original_name === "/etc/passwd.png")!.path).toBe("train/abs/_etc_passwd.png");
    expect(jsonl.find((r) => r.original_name === "..")!.path).toBe("train/dotdot-file/image.png");
  });

  it("quotes CSV cells and defuses spreadsheet formulas", async () => {
    const evil = addClass('=HYPERLINK("http://x","click")');
    label([await addImage('-2+3 "quoted", name.png')], evil);
    const { csv, jsonl } = await exportZip();
    const [, row] = parseCsv(csv);
    expect(row[3]).toBe(`'=HYPERLINK("http://x","click")`);
    expect(row[5]).toBe(`'-2+3 "quoted", name.png`);
    expect(csv).toContain(`"'=HYPERLINK(""http://x"",""click"")"`);
    // JSON Lines keeps the values as they are.
    expect(jsonl[0].class_name).toBe('=HYPERLINK("http://x","click")');
  });

  it("stops reading and removes its temporary files when the download is cancelled", async () => {
    const cat = addClass("cat");
    const ids: number[] = [];
    for (let i = 0; i < 30; i++) ids.push(await addImage(`${i}.png`));
    label(ids, cat);
    const res = exportDataset(db, projectId, exportQuery.parse({}));
    const reader = res.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    await new Promise((r) => setTimeout(r, 100));
    const left = fs.existsSync(stagingDir()) ? fs.readdirSync(stagingDir()) : [];
    expect(left).toEqual([]);
  });
});

describe("export names and cells", () => {
  it("safeSegment keeps unicode and strips what could leave the folder", () => {
    expect(safeSegment("../../etc", 100, "f")).toBe("_.._etc");
    expect(safeSegment("..", 100, "f")).toBe("f");
    expect(safeSegment(" .x. ", 100, "f")).toBe("x");
    expect(safeSegment("Ünïcødé 猫", 100, "f")).toBe("Ünïcødé 猫");
    expect(safeSegment("aux.tar.gz", 100, "f")).toBe("_aux.tar.gz");
    expect(safeSegment("e\u0301", 100, "f")).toBe("é");
    expect(Buffer.byteLength(safeSegment("猫".repeat(100), 100, "f"))).toBe(99);
  });

  it("UniqueNames numbers repeats within the byte limit", () => {
    const names = new UniqueNames(12);
    expect([names.take("a", ".jpg"), names.take("A", ".jpg"), names.take("abcdefghij", ".jpg"), names.take("abcdefghij", ".jpg")]).toEqual([
      "a.jpg",
      "A (2).jpg",
      "abcdefgh.jpg",
      "abcd (2).jpg",
    ]);
  });

  it("imageFileParts matches the extension to the real format", () => {
    expect(imageFileParts("x.JPEG", "jpeg")).toEqual({ stem: "x", ext: ".jpeg" });
    expect(imageFileParts("x.jfif", "jpeg")).toEqual({ stem: "x", ext: ".jpg" });
    expect(imageFileParts("x.png", "webp")).toEqual({ stem: "x", ext: ".webp" });
    expect(imageFileParts(".png", "png")).toEqual({ stem: "png", ext: ".png" });
  });

  it("orders like Python, splits like lib/ml, and writes RFC 4180 / RFC 5987", () => {
    expect(["b", "B", "a", "\u{1F431}", "\uFF21"].sort(compareCodePoints)).toEqual(["B", "a", "b", "\uFF21", "\u{1F431}"]);
    expect([valCount(1, 0.2), valCount(2, 0.2), valCount(10, 0.2), valCount(3, 0.9), valCount(10, 0)]).toEqual([0, 1, 2, 2, 0]);
    expect([csvCell("a,b"), csvCell('say "hi"'), csvCell("line\nbreak"), csvCell("@cmd"), csvCell(-1), csvCell(null)]).toEqual([
      '"a,b"',
      '"say ""hi"""',
      '"line\nbreak"',
      "'@cmd",
      "-1",
      "",
    ]);
    expect(attachmentDisposition("猫's \"set\".zip")).toBe(
      `attachment; filename="_'s _set_.zip"; filename*=UTF-8''%E7%8C%AB%27s%20%22set%22.zip`,
    );
  });
});
