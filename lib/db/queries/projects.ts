import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { classes, projects } from "@/lib/db/schema";
import { notFound } from "@/lib/errors";
import { classInput, createClass } from "./classes";

export const createProjectInput = z.object({
  name: z.string().trim().min(1, "a project needs a name").max(200),
  description: z.string().max(5000).default(""),
  classes: z.array(classInput).max(1000).default([]),
});
export type CreateProjectInput = z.input<typeof createProjectInput>;

export const updateProjectInput = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  description: z.string().max(5000).optional(),
  /** The precision an audit must show before "Accept all above threshold" opens (lib/review/audit.ts). */
  targetPrecision: z.number().min(0.5, "targetPrecision must be at least 0.5").max(0.999, "targetPrecision must be below 1: no sample proves 100%").optional(),
});

export function createProject(db: Db, input: CreateProjectInput) {
  const data = createProjectInput.parse(input);
  const names = data.classes.map((c) => c.name.toLowerCase());
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new z.ZodError([{ code: "custom", path: ["classes"], message: `class "${dup}" is listed twice`, input: dup }]);
  return db.transaction(() => {
    const project = db.insert(projects).values({ name: data.name, description: data.description }).returning().get();
    for (const c of data.classes) createClass(db, project.id, c);
    return project;
  });
}

export function getProject(db: Db, projectId: number) {
  const project = db.select().from(projects).where(eq(projects.id, projectId)).get();
  if (!project) throw notFound("project", projectId);
  return project;
}

export function getProjectWithClasses(db: Db, projectId: number) {
  const project = getProject(db, projectId);
  const rows = db.select().from(classes).where(eq(classes.projectId, projectId)).orderBy(asc(classes.position)).all();
  return { project, classes: rows };
}

export function listProjects(db: Db) {
  return db
    .select({
      id: projects.id,
      name: projects.name,
      description: projects.description,
      createdAt: projects.createdAt,
      // Spelled out in SQL: inside a subquery drizzle drops the table names, and "project_id = id"
      // would then compare two columns of the inner table.
      imageCount: sql<number>`(select count(*) from images i where i.project_id = "projects"."id")`,
      labeledCount: sql<number>`(select count(*) from labels l where l.project_id = "projects"."id")`,
    })
    .from(projects)
    .orderBy(asc(projects.id))
    .all();
}

export function updateProject(db: Db, projectId: number, input: z.input<typeof updateProjectInput>) {
  const data = updateProjectInput.parse(input);
  getProject(db, projectId);
  if (Object.keys(data).length === 0) return getProject(db, projectId);
  return db.update(projects).set(data).where(eq(projects.id, projectId)).returning().get();
}

/** Deletes the project's rows. Blobs stay in the content-addressed store (another project may share them). */
export function deleteProject(db: Db, projectId: number): void {
  getProject(db, projectId);
  db.delete(projects).where(and(eq(projects.id, projectId))).run();
}
