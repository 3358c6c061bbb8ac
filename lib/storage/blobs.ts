import { copyFileAtomically, exists } from "./files";
import { blobPath } from "./paths";

/**
 * Stores a file's bytes under its sha256. The same content imported twice (or into two projects)
 * is stored once; an existing blob is never rewritten.
 */
export async function storeBlob(sha256: string, sourceFile: string): Promise<string> {
  const dest = blobPath(sha256);
  if (!(await exists(dest))) await copyFileAtomically(sourceFile, dest);
  return dest;
}
