/**
 * A training checkpoint in one file, <runDir>/checkpoint.bin, replaced atomically (temp file +
 * rename), so a run killed at any moment leaves the previous checkpoint or the new one, never a
 * torn one:
 *   "FXLCKPT1" | uint32 LE header length | header JSON (padded to 4 bytes) | float32 arrays
 * The header holds the JSON state (step, config, RNG state, ...) and, per group of arrays
 * (model weights, EMA weights, optimizer buffers), each array's length.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "@/lib/storage";

const MAGIC = "FXLCKPT1";

export type Checkpoint<Meta> = {
  meta: Meta;
  arrays: Record<string, Float32Array[]>;
};

export function checkpointFile(runDir: string): string {
  return path.join(runDir, "checkpoint.bin");
}

export async function saveCheckpoint<Meta>(runDir: string, checkpoint: Checkpoint<Meta>): Promise<void> {
  const groups = Object.fromEntries(Object.entries(checkpoint.arrays).map(([name, arrays]) => [name, arrays.map((a) => a.length)]));
  let header = Buffer.from(JSON.stringify({ meta: checkpoint.meta, groups }));
  header = Buffer.concat([header, Buffer.alloc((4 - (header.length % 4)) % 4, 0x20)]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const data = Object.values(checkpoint.arrays).flatMap((arrays) =>
    arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)),
  );
  await writeAtomically(checkpointFile(runDir), (temp) => fsp.writeFile(temp, Buffer.concat([Buffer.from(MAGIC), length, header, ...data])));
}

/** The run's checkpoint, or null when it has none yet. */
export async function loadCheckpoint<Meta>(runDir: string): Promise<Checkpoint<Meta> | null> {
  let file: Buffer;
  try {
    file = await fsp.readFile(checkpointFile(runDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  if (file.subarray(0, 8).toString() !== MAGIC) throw new Error(`${checkpointFile(runDir)} is not a FixLabel checkpoint`);
  const headerLength = file.readUInt32LE(8);
  const { meta, groups } = JSON.parse(file.subarray(12, 12 + headerLength).toString()) as { meta: Meta; groups: Record<string, number[]> };
  // Copy the floats out: the file buffer's offset need not be 4-byte aligned.
  const floats = new Float32Array(new Uint8Array(file.subarray(12 + headerLength)).buffer);
  let offset = 0;
  const arrays: Record<string, Float32Array[]> = {};
  for (const [name, lengths] of Object.entries(groups)) {
    arrays[name] = lengths.map((n) => floats.slice(offset, (offset += n)));
  }
  if (offset !== floats.length) throw new Error(`${checkpointFile(runDir)} is truncated or corrupt`);
  return { meta, arrays };
}
