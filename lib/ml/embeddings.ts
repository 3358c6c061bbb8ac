/**
 * A run's image embeddings on disk, free of TensorFlow.js so the web server can read them: the
 * "predict" job (worker/handlers/train.ts) writes the model's penultimate-layer features (the
 * global-average-pooled activations the logits are computed from) next to its checkpoint, and
 * "label next" (lib/review/next.ts) spreads its picks over them so they are not near-copies.
 *
 * Two files in <dataDir>/runs/<id>/: embeddings.f32 holds imageIds.length x dim little-endian
 * float32 values, row-major; embeddings.json holds { dim, imageIds } (row i is imageIds[i]).
 * Raw floats rather than JSON: 50,000 images x 128 features is 25 MB, read in a few milliseconds.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { writeAtomically } from "@/lib/storage";

export type Embeddings = { dim: number; imageIds: number[]; values: Float32Array };

const VALUES_FILE = "embeddings.f32";
const INDEX_FILE = "embeddings.json";

export async function writeEmbeddings(dir: string, embeddings: Embeddings): Promise<void> {
  const { dim, imageIds, values } = embeddings;
  if (values.length !== dim * imageIds.length) throw new Error(`embeddings: ${values.length} values for ${imageIds.length} x ${dim}`);
  await fsp.mkdir(dir, { recursive: true });
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  await writeAtomically(path.join(dir, VALUES_FILE), (temp) => fsp.writeFile(temp, bytes));
  // The index last: a reader that finds it finds complete values too.
  await writeAtomically(path.join(dir, INDEX_FILE), (temp) => fsp.writeFile(temp, JSON.stringify({ dim, imageIds })));
}

/** When the embeddings were last written (null if never): lets a reader cache them until a re-predict. */
export function embeddingsWrittenAt(dir: string): number | null {
  try {
    return fs.statSync(path.join(dir, INDEX_FILE)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** The run's embeddings, or null when the run wrote none (runs from before embeddings existed). */
export function readEmbeddings(dir: string): Embeddings | null {
  let index: { dim: number; imageIds: number[] };
  try {
    index = JSON.parse(fs.readFileSync(path.join(dir, INDEX_FILE), "utf8")) as typeof index;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const bytes = fs.readFileSync(path.join(dir, VALUES_FILE));
  // Copied into a fresh, aligned buffer: a Buffer from the pool may start at an odd offset.
  const values = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(values.buffer).set(bytes);
  if (values.length !== index.dim * index.imageIds.length) return null;
  return { dim: index.dim, imageIds: index.imageIds, values };
}
