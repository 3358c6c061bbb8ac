/**
 * Stores the "How it learns" sample events of a run: the views as PNGs under
 * runs/<id>/samples/<step>/, one small row per image in training_samples, and only the last few
 * events (older folders are deleted with their rows). A failure to record is logged, never fatal.
 */
import { recordSampleEvent } from "@/lib/db/queries/samples";
import type { Db } from "@/lib/db/client";
import { describeApplied } from "@/lib/ml/augment";
import { pruneSampleImages, writeSampleImages, type SampleEvent } from "@/lib/ml/samples";

/** Steps between sample events: a few ms each, well under 2% of the steps in between (bench/samples.ts). */
export const SAMPLES_EVERY = 25;

export function sampleRecorder(db: Db, runId: number, dir: string, imageIdOfFrame: (frame: number) => number, log: (line: string) => void) {
  const stats = { events: 0, ms: 0 };
  const record = async (event: SampleEvent) => {
    const start = performance.now();
    try {
      const files = await writeSampleImages(dir, event);
      const kept = recordSampleEvent(
        db,
        runId,
        event.step,
        event.images.map((s, position) => ({
          position,
          imageId: imageIdOfFrame(s.frame),
          weakOps: { ops: s.weakOps, text: describeApplied(s.weakOps) },
          strongOps: { ops: s.strongOps, text: describeApplied(s.strongOps) },
          weakClassIndex: s.weakClassIndex,
          weakConfidence: s.weakConfidence,
          threshold: s.threshold,
          maskedIn: s.maskedIn,
          strongClassIndex: s.strongClassIndex,
          strongConfidence: s.strongConfidence,
          loss: s.loss,
          weakPath: files[position].weak,
          strongPath: files[position].strong,
        })),
      );
      await pruneSampleImages(dir, kept);
    } catch (err) {
      log(`recording the samples of run ${runId} at step ${event.step} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    stats.events++;
    stats.ms += event.captureMs + performance.now() - start;
  };
  return { record, stats };
}
