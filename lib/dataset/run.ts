import os from "node:os";
import type { ReportBuilder } from "./report";

/** Called after each file; returning true asks the import to stop (a cancelled job). */
export type OnProgress = (done: number, total: number) => boolean | void;

/**
 * How many files are hashed/decoded at once. sharp decodes on libuv's thread pool, so a few files
 * in flight keep every core busy while one waits for the disk; SQLite writes stay serial anyway.
 */
const IMPORT_CONCURRENCY = Math.min(8, Math.max(2, os.availableParallelism()));

/**
 * Runs `task` over the items a few at a time, reporting progress, until all are done or the report
 * is stopped (cancel, archive limit). If a task throws (infrastructure trouble, not a bad file) the
 * others finish their current item and the error is rethrown.
 */
export async function runImportTasks<T>(
  items: T[],
  builder: ReportBuilder,
  onProgress: OnProgress | undefined,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let done = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (next < items.length && builder.report.stopped === null && failure === null) {
      const item = items[next++];
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
        return;
      }
      done++;
      if (onProgress?.(done, items.length) === true) builder.stop("cancelled");
    }
  };
  await Promise.all(Array.from({ length: Math.min(IMPORT_CONCURRENCY, items.length) }, worker));
  if (failure) throw (failure as { error: unknown }).error;
}
