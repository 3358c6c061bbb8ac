/**
 * The pure pieces of a dataset export: turning class and file names (which come from users,
 * archives and folders) into safe zip path segments, the train/val split rule, and CSV cells.
 * Nothing here touches the database or the disk.
 */
import { hasImageExtension } from "./names";

/** Folder and file names stay short enough that train/<class>/<file> fits Windows' 260-char paths. */
export const MAX_FOLDER_BYTES = 100;
export const MAX_FILE_BYTES = 150;

// Separators and characters Windows forbids, C0/C1 controls, DEL, and bidi overrides that can make
// "gpj.exe" display as "exe.jpg".
const UNSAFE_CHARS = /[/\\:*?"<>|\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
// Device names Windows refuses to create, also with an extension ("CON.txt").
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;

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
 * One path segment that cannot leave its folder on any OS: unicode letters kept (NFC), separators,
 * reserved and control characters replaced by "_", leading dots and spaces stripped (no "..", no
 * hidden files), trailing dots and spaces stripped (Windows drops them), Windows device names
 * prefixed, at most `maxBytes` of UTF-8, and `fallback` when nothing is left.
 */
export function safeSegment(raw: string, maxBytes: number, fallback: string): string {
  const tidy = (s: string) => s.replace(/^[.\s]+/, "").replace(/[.\s]+$/, "");
  let name = tidy(raw.normalize("NFC").replace(UNSAFE_CHARS, "_"));
  if (WINDOWS_RESERVED.test(name)) name = `_${name}`;
  name = tidy(truncateUtf8(name, maxBytes));
  return name || fallback;
}

/**
 * Makes names unique within one folder, case-insensitively (a zip unpacked on macOS or Windows
 * would otherwise overwrite "A.jpg" with "a.jpg"): the second "x.jpg" becomes "x (2).jpg".
 */
export class UniqueNames {
  private readonly used = new Set<string>();

  constructor(private readonly maxBytes: number) {}

  take(stem: string, ext = ""): string {
    for (let n = 1; ; n++) {
      const suffix = n === 1 ? "" : ` (${n})`;
      const room = this.maxBytes - Buffer.byteLength(suffix + ext);
      const name = truncateUtf8(stem, room).replace(/[.\s]+$/, "") + suffix + ext;
      const key = name.toLowerCase();
      if (!this.used.has(key)) {
        this.used.add(key);
        return name;
      }
    }
  }
}

/**
 * The extensions loaders accept for each stored format; the first is the one given to a file whose
 * own extension does not match its content (torchvision and Keras pick files by extension).
 */
const EXTENSIONS: Record<string, string[]> = {
  jpeg: [".jpg", ".jpeg"],
  png: [".png"],
  webp: [".webp"],
  gif: [".gif"],
  tiff: [".tif", ".tiff"],
  avif: [".avif"],
};

/** The stem and the lower-case extension an image gets in the zip, from its name and real format. */
export function imageFileParts(originalName: string, format: string): { stem: string; ext: string } {
  const dot = originalName.lastIndexOf(".");
  const hasExt = dot > 0 && hasImageExtension(originalName);
  const ownExt = hasExt ? originalName.slice(dot).toLowerCase() : "";
  const stemRaw = hasExt ? originalName.slice(0, dot) : originalName;
  const allowed = EXTENSIONS[format] ?? [`.${format.replace(/[^a-z0-9]/gi, "").toLowerCase() || "bin"}`];
  const ext = allowed.includes(ownExt) ? ownExt : allowed[0];
  return { stem: safeSegment(stemRaw, MAX_FILE_BYTES - Buffer.byteLength(ext), "image"), ext };
}

/** Sorts like Python's sorted() on str (by code point), which is how ImageFolder numbers classes. */
export function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0)!);
  const cb = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i] - cb[i];
  return ca.length - cb.length;
}

/**
 * How many of a class's n images go to val: round(share * n), at least 1 when the class has 2 or
 * more images, never all of them (the rule lib/ml uses for its held-out split), 0 without a share.
 */
export function valCount(n: number, share: number): number {
  if (share <= 0 || n < 2) return 0;
  return Math.min(n - 1, Math.max(1, Math.round(share * n)));
}

/** murmur3's 32-bit finaliser: a cheap bijective mix of 32 bits. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The order in which a class's images are drawn for val, from the image's content hash and a seed:
 * the same image lands on the same side in every export with the same seed, whatever its id or the
 * order it was imported in. A sha256 prefix is already uniform, so mixing in the seed is enough
 * (and cheap: the plan ranks every exported image before the first byte goes out).
 */
export function splitRank(sha256: string, seed: number): number {
  return mix32(parseInt(sha256.slice(0, 8), 16) ^ mix32(seed + 0x9e3779b9));
}

/**
 * A CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled. Text
 * that starts with = + - @ (or tab / CR) gets a leading ' so a spreadsheet shows it instead of
 * running it as a formula; numbers are written as they are.
 */
export function csvCell(value: string | number | null): string {
  if (value === null) return "";
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(values: (string | number | null)[]): string {
  return `${values.map(csvCell).join(",")}\r\n`;
}

/**
 * Content-Disposition for a download: an ASCII filename for old clients plus RFC 5987 filename*
 * with the real (unicode) name.
 */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
