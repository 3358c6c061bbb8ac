import { and, asc, eq, ne, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { classes, labels } from "@/lib/db/schema";
import { conflict, notFound } from "@/lib/errors";
import { recordLabelChanges } from "./labels";

/** Distinct, readable on light and dark backgrounds; assigned in order to new classes. */
export const CLASS_PALETTE = [
  "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4",
  "#469990", "#dcbeff", "#9a6324", "#800000", "#aaffc3", "#808000", "#000075",
];
const HOTKEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"];

export const classInput = z.object({
  name: z
    .string()
    .trim()
    .min(1, "a class needs a name")
    .max(100)
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), "control characters are not allowed in a class name"),
  color: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, "colour must look like #12ab9f")
    .optional(),
  hotkey: z.enum(HOTKEYS as [string, ...string[]]).nullable().optional(),
});
export const updateClassInput = classInput.partial();

export function nextClassDefaults(position: number, existing: { hotkey: string | null }[]) {
  const used = new Set(existing.map((c) => c.hotkey));
  return {
    color: CLASS_PALETTE[position % CLASS_PALETTE.length],
    hotkey: HOTKEYS.find((k) => !used.has(k)) ?? null,
  };
}

export function listClasses(db: Db, projectId: number) {
  return db.select().from(classes).where(eq(classes.projectId, projectId)).orderBy(asc(classes.position)).all();
}

export function getClass(db: Db, projectId: number, classId: number) {
  const row = db
    .select()
    .from(classes)
    .where(and(eq(classes.id, classId), eq(classes.projectId, projectId)))
    .get();
  if (!row) throw notFound("class", classId);
  return row;
}

function assertFree(db: Db, projectId: number, data: { name?: string; hotkey?: string | null }, exceptId = -1) {
  const others = db
    .select()
    .from(classes)
    .where(and(eq(classes.projectId, projectId), ne(classes.id, exceptId)))
    .all();
  if (data.name !== undefined && others.some((c) => c.name.toLowerCase() === data.name!.toLowerCase())) {
    throw conflict(`a class named "${data.name}" already exists`, { field: "name" });
  }
  if (data.hotkey && others.some((c) => c.hotkey === data.hotkey)) {
    const holder = others.find((c) => c.hotkey === data.hotkey)!;
    throw conflict(`hotkey ${data.hotkey} is already used by "${holder.name}"`, { field: "hotkey" });
  }
}

export function createClass(db: Db, projectId: number, input: z.input<typeof classInput>) {
  const data = classInput.parse(input);
  return db.transaction(() => {
    const existing = listClasses(db, projectId);
    assertFree(db, projectId, data);
    const position = existing.length ? Math.max(...existing.map((c) => c.position)) + 1 : 0;
    const defaults = nextClassDefaults(existing.length, existing);
    return db
      .insert(classes)
      .values({
        projectId,
        name: data.name,
        color: data.color ?? defaults.color,
        hotkey: data.hotkey === undefined ? defaults.hotkey : data.hotkey,
        position,
      })
      .returning()
      .get();
  });
}

export function updateClass(db: Db, projectId: number, classId: number, input: z.input<typeof updateClassInput>) {
  const data = updateClassInput.parse(input);
  getClass(db, projectId, classId);
  assertFree(db, projectId, data, classId);
  if (Object.keys(data).length === 0) return getClass(db, projectId, classId);
  return db.update(classes).set(data).where(eq(classes.id, classId)).returning().get();
}

export function reorderClasses(db: Db, projectId: number, classIds: number[]) {
  const existing = listClasses(db, projectId);
  const same =
    classIds.length === existing.length && new Set(classIds).size === classIds.length && existing.every((c) => classIds.includes(c.id));
  if (!same) throw conflict("the new order must list every class of the project exactly once", { field: "classIds" });
  db.transaction(() => {
    classIds.forEach((id, position) => db.update(classes).set({ position }).where(eq(classes.id, id)).run());
  });
  return listClasses(db, projectId);
}

export function countClassLabels(db: Db, classId: number): number {
  return db.select({ n: sql<number>`count(*)` }).from(labels).where(eq(labels.classId, classId)).get()!.n;
}

export type DeleteClassChoice = { labels?: "unlabel" | "move"; moveTo?: number };

/**
 * Deletes a class. If it still holds labels, the caller must say what happens to them: "unlabel"
 * (the images go back to the unlabeled pool) or "move" (to another class). Either way the change is
 * one label action, so it shows in each image's history.
 */
export function deleteClass(db: Db, projectId: number, classId: number, choice: DeleteClassChoice, actor: string) {
  const cls = getClass(db, projectId, classId);
  const held = countClassLabels(db, classId);
  if (held > 0 && !choice.labels) {
    throw conflict(`class "${cls.name}" holds ${held} label${held === 1 ? "" : "s"}: unlabel them or move them to another class`, {
      labelCount: held,
    });
  }
  let target: number | null = null;
  if (held > 0 && choice.labels === "move") {
    if (!choice.moveTo || choice.moveTo === classId) throw conflict("moveTo must name another class of this project", { field: "moveTo" });
    target = getClass(db, projectId, choice.moveTo).id;
  }
  return db.transaction(() => {
    const imageIds = db
      .select({ imageId: labels.imageId })
      .from(labels)
      .where(eq(labels.classId, classId))
      .all()
      .map((r) => r.imageId);
    if (imageIds.length) {
      recordLabelChanges(db, {
        projectId,
        imageIds,
        classId: target,
        source: "human",
        actor,
        kind: target === null ? "class_deleted" : "class_merged",
      });
    }
    db.delete(classes).where(eq(classes.id, classId)).run();
    const rest = db.select().from(classes).where(eq(classes.projectId, projectId)).orderBy(asc(classes.position)).all();
    rest.forEach((c, position) => db.update(classes).set({ position }).where(eq(classes.id, c.id)).run());
    return { labelsAffected: imageIds.length };
  });
}
