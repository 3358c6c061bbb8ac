/**
 * The tfjs backend of this worker process, chosen once (lib/ml/backend.ts picks it and says why) and
 * shared by every handler that runs tensors (train, predict, export, augment.preview).
 */
import { initBackend, type BackendChoice } from "@/lib/ml/backend";

let backend: Promise<BackendChoice> | null = null;

export function ensureBackend(): Promise<BackendChoice> {
  backend ??= initBackend();
  return backend;
}
