import path from "node:path";
import { z } from "zod";
import { parseHostEntry, type HostEntry } from "./request-guard";

/** Hosts that only this machine can reach: binding to anything else requires an access token. */
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

const schema = z
  .object({
    FIXLABEL_DATA_DIR: z.string().min(1).default("./data"),
    FIXLABEL_HOST: z.string().min(1).default("127.0.0.1"),
    FIXLABEL_PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    /**
     * Host names (or name:port) the server answers to besides the loopback names, comma-separated,
     * e.g. "fixlabel.lan,192.168.1.20:3000". Any other Host header is refused (DNS rebinding).
     */
    FIXLABEL_ALLOWED_HOSTS: z
      .string()
      .default("")
      .transform((value, ctx): HostEntry[] => {
        const entries: HostEntry[] = [];
        for (const item of value.split(",").map((s) => s.trim()).filter(Boolean)) {
          const entry = parseHostEntry(item);
          if (!entry) {
            ctx.addIssue({ code: "custom", message: `"${item}" is not a host name or host:port (no scheme, path or wildcard)` });
            return z.NEVER;
          }
          entries.push(entry);
        }
        return entries;
      }),
    /** Required when FIXLABEL_HOST is not a loopback address; every route then checks it. */
    FIXLABEL_TOKEN: z.string().min(16, "FIXLABEL_TOKEN must be at least 16 characters").optional(),
    /** Server-side folder imports may only read below this directory. Unset: server imports are off. */
    FIXLABEL_IMPORT_ROOT: z.string().min(1).optional(),
    /** Images with more pixels than this are rejected (decompression bombs). */
    FIXLABEL_MAX_IMAGE_PIXELS: z.coerce.number().int().positive().default(100_000_000),
    /** A single uploaded file larger than this is rejected. */
    FIXLABEL_MAX_FILE_BYTES: z.coerce.number().int().positive().default(200 * 1024 * 1024),
    /** Zip bombs: caps on the total uncompressed bytes and the number of entries of one archive. */
    FIXLABEL_ZIP_MAX_BYTES: z.coerce.number().int().positive().default(8 * 1024 ** 3),
    FIXLABEL_ZIP_MAX_ENTRIES: z.coerce.number().int().positive().default(200_000),
    FIXLABEL_THUMB_SIZE: z.coerce.number().int().min(32).max(1024).default(256),
    /** How long a claimed job stays leased to a worker without a heartbeat before another may take it. */
    FIXLABEL_JOB_LEASE_MS: z.coerce.number().int().positive().default(60_000),
  })
  .superRefine((env, ctx) => {
    if (!LOOPBACK.has(env.FIXLABEL_HOST) && !env.FIXLABEL_TOKEN) {
      ctx.addIssue({
        code: "custom",
        path: ["FIXLABEL_TOKEN"],
        message: `FIXLABEL_HOST=${env.FIXLABEL_HOST} is reachable from other machines: set FIXLABEL_TOKEN (16+ characters) so every request must carry it`,
      });
    }
  });

export type Env = z.infer<typeof schema> & {
  dataDir: string;
  dbPath: string;
  importRoot: string | null;
};

let cached: Env | null = null;

/** Parses the environment once; a bad value fails start-up with a message naming the variable. */
export function getEnv(source: Record<string, string | undefined> = process.env): Env {
  if (cached && source === process.env) return cached;
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid FixLabel configuration:\n${lines.join("\n")}`);
  }
  const dataDir = path.resolve(parsed.data.FIXLABEL_DATA_DIR);
  const env: Env = {
    ...parsed.data,
    dataDir,
    dbPath: path.join(dataDir, "fixlabel.sqlite"),
    importRoot: parsed.data.FIXLABEL_IMPORT_ROOT ? path.resolve(parsed.data.FIXLABEL_IMPORT_ROOT) : null,
  };
  if (source === process.env) cached = env;
  return env;
}

/** Tests change the environment between cases. */
export function resetEnvCache(): void {
  cached = null;
}
