import type { ReportBuilder } from "./report";

/** Called after each file; returning true asks the import to stop (a cancelled job). */
export type OnProgress = (done: number, total: number) => boolean | void;

/**
 * How many files are in flight at once. An import is bound by file-system latency more than by CPU
 * (per image: stat, hash read, thumbnail write + rename, blob copy + rename), so more files than
 * cores pay off: measured with bench/import.ts on 2 cores, 2 in flight gave 58 images/s, 8 gave 94,
 * 16 gave 81. sharp and fs both run on libuv's thread pool (4 threads by default), which bounds
 * how many decodes hold memory at the same time.
 */
const IMPORT_CONCURRENCY = 8;

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
