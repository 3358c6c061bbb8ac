import { and, desc, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { labelActions, proposalAudits, trainingRuns } from "@/lib/db/schema";

/**
 * Audit answers (lib/review/audit.ts): a person's verdict on sampled proposals, per run. An answer
 * counts while the label action that recorded it is not undone: undoing an audit answer takes it
 * out of the precision as well as out of the labels.
 */

export type NewAuditAnswer = typeof proposalAudits.$inferInsert;

/** Records answers; answering the same image of the same run again replaces the earlier answer. */
export function upsertAuditAnswers(db: Db, rows: readonly NewAuditAnswer[]): void {
  if (rows.length === 0) return;
  db.transaction(() => {
    for (const row of rows) {
      db.insert(proposalAudits)
        .values(row)
        .onConflictDoUpdate({
          target: [proposalAudits.runId, proposalAudits.imageId],
          set: {
            answerClassId: row.answerClassId,
            correct: row.correct,
            floor: row.floor,
            labelActionId: row.labelActionId,
            actor: row.actor,
            createdAt: sql`(cast(unixepoch('subsecond') * 1000 as integer))`,
          },
        })
        .run();
    }
  });
}

/** The run's answers that count (their label action not undone), oldest first. */
export function listAuditAnswers(db: Db, runId: number) {
  return db
    .select({
      imageId: proposalAudits.imageId,
      classId: proposalAudits.proposedClassId,
      confidence: proposalAudits.confidence,
      floor: proposalAudits.floor,
      correct: proposalAudits.correct,
      answerClassId: proposalAudits.answerClassId,
    })
    .from(proposalAudits)
    .leftJoin(labelActions, eq(labelActions.id, proposalAudits.labelActionId))
    .where(and(eq(proposalAudits.runId, runId), or(isNull(proposalAudits.labelActionId), isNull(labelActions.undoneBy))))
    .orderBy(proposalAudits.id)
    .all();
}

/** The model version of the latest earlier run of the project that was audited (its audit no longer counts), or null. */
export function findEarlierAuditedModelVersion(db: Db, projectId: number, runId: number): string | null {
  return (
    db
      .select({ v: trainingRuns.modelVersion })
      .from(proposalAudits)
      .innerJoin(trainingRuns, eq(trainingRuns.id, proposalAudits.runId))
      .where(and(eq(proposalAudits.projectId, projectId), ne(proposalAudits.runId, runId), lt(proposalAudits.runId, runId)))
      .orderBy(desc(proposalAudits.runId))
      .limit(1)
      .get()?.v ?? null
  );
}
