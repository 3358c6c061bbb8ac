/**
 * File names and folder paths that come from users, archives and folders. They are stored and
 * shown, never used as paths on disk, but they still must be printable and bounded.
 */

const MAX_NAME_BYTES = 255;
/** Class names made from folder names follow the class-name limit of the classes API. */
const MAX_CLASS_NAME_CHARS = 100;

// C0/C1 controls and DEL, plus bidi overrides that can make "gpj.exe" display as "exe.jpg".
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** Extensions worth decoding. Others (.txt, .csv, .json next to a dataset) are skipped quietly. */
const IMAGE_EXTENSIONS = new Set([
  ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".tif", ".tiff", ".avif", ".heic", ".heif", ".bmp",
]);

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
function truncateUtf8(value: string, maxBytes: number): string {
  if (Buffer.byteLength(value) <= maxBytes) return value;
  let out = "";
  let bytes = 0;
  for (const ch of value) {
    const size = Buffer.byteLength(ch);
    if (bytes + size > maxBytes) break;
    out += ch;
    bytes += size;
  }
  return out;
}

/**
 * A displayable file name: unicode kept (NFC), control characters removed, at most 255 bytes of
 * UTF-8 with the extension kept when the stem is cut, "unnamed" when nothing is left.
 */
export function sanitizeName(raw: string): string {
  const name = raw.normalize("NFC").replace(UNPRINTABLE, "").trim();
  if (!name) return "unnamed";
  if (Buffer.byteLength(name) <= MAX_NAME_BYTES) return name;
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : "";
  return truncateUtf8(name.slice(0, name.length - ext.length), MAX_NAME_BYTES - Buffer.byteLength(ext)) + ext;
}

export function hasImageExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot >= 0 && IMAGE_EXTENSIONS.has(name.slice(dot).toLowerCase());
}

/** Dotfiles (.DS_Store, ._photo.jpg) and macOS archive metadata are never images a user meant. */
export function isHiddenPath(segments: string[]): boolean {
  return segments[0] === "__MACOSX" || segments.some((s) => s.startsWith("."));
}

/** A relative path from a browser folder upload: "/" or "\" separated; "." and ".." dropped. */
export function splitClientPath(raw: string): { folders: string[]; name: string } {
  const parts = raw
    .split(/[\\/]+/)
    .filter((s) => s !== "" && s !== "." && s !== "..")
    .map(sanitizeName);
  const name = parts.pop() ?? "unnamed";
  return { folders: parts, name };
}

/** A folder name as a class name: sanitized and capped at the class-name length. */
export function classNameFromFolder(folder: string): string {
  return [...sanitizeName(folder)].slice(0, MAX_CLASS_NAME_CHARS).join("").trim();
}

const UNLABELED_FOLDER = "unlabeled";

/**
 * The ImageFolder rule for archives and server folders, given the folder segments of every image:
 *
 *   1. If all images sit below one common top folder ("mydata/cats/a.png", "mydata/dogs/b.png"),
 *      that folder is the archive's wrapper and is ignored.
 *   2. Then, if EVERY image is exactly one folder deep ("cats/a.png"), that folder is its class.
 *      A folder literally named "unlabeled" (any case) means "no label".
 *   3. Any other layout (loose files next to folders, "train/cats/a.png" beside "test/cats/b.png",
 *      a single folder of photos) gives no labels at all: guessing classes from arbitrary folder
 *      trees would silently invent wrong labels, while importing unlabeled is always safe.
 *
 * So "train/cats/a.png" + "train/dogs/b.png" gives cats and dogs (train is the wrapper), and a zip
 * with only "cats/…" gives no labels (cats is taken as the wrapper): import a single class's folder
 * into a project and label it there.
 * Returns the label of each image, in input order (null = none).
 */
export function imageFolderLabels(folderLists: string[][]): (string | null)[] {
  if (folderLists.length === 0) return [];
  const top = folderLists[0][0];
  const wrapped = top !== undefined && folderLists.every((f) => f.length >= 1 && f[0] === top);
  const stripped = wrapped ? folderLists.map((f) => f.slice(1)) : folderLists;
  if (!stripped.every((f) => f.length === 1)) return folderLists.map(() => null);
  return stripped.map(([folder]) => (folder.toLowerCase() === UNLABELED_FOLDER ? null : classNameFromFolder(folder) || null));
}

/**
 * The rule for browser folder uploads with "labels from folders" ticked. The browser sends
 * "<picked folder>/<class>/<file>", so the first folder is always the one the user picked and is
 * never a class; the file's immediate parent below it is. "unlabeled" means no label.
 */
export function uploadFolderLabel(folders: string[]): string | null {
  if (folders.length < 2) return null;
  const parent = folders[folders.length - 1];
  return parent.toLowerCase() === UNLABELED_FOLDER ? null : classNameFromFolder(parent) || null;
}
