import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Db } from "@/lib/db/client";
import { makeTestDb } from "@/lib/testing/db";
import { createClass, reorderClasses, updateClass } from "./classes";
import { createProject, getProjectWithClasses, listProjects } from "./projects";

let db: Db;
let cleanup: () => void;
beforeEach(() => ({ db, cleanup } = makeTestDb()));
afterEach(() => cleanup());

describe("projects and classes", () => {
  it("creates a project with ordered classes, default colours and hotkeys", () => {
    const p = createProject(db, { name: "  Birds ", classes: [{ name: "owl" }, { name: "crow", hotkey: "5" }, { name: "gull" }] });
    expect(p.name).toBe("Birds");
    const { classes } = getProjectWithClasses(db, p.id);
    expect(classes.map((c) => [c.name, c.position, c.hotkey])).toEqual([
      ["owl", 0, "1"],
      ["crow", 1, "5"],
      ["gull", 2, "2"],
    ]);
    expect(classes.every((c) => /^#[0-9a-f]{6}$/i.test(c.color))).toBe(true);
    expect(listProjects(db)).toEqual([expect.objectContaining({ id: p.id, imageCount: 0, labeledCount: 0 })]);
  });

  it("refuses duplicate names (any case), taken hotkeys, bad colours and control characters", () => {
    expect(() => createProject(db, { name: "x", classes: [{ name: "a" }, { name: "A" }] })).toThrow(/listed twice/);
    const p = createProject(db, { name: "x", classes: [{ name: "a" }] });
    expect(() => createClass(db, p.id, { name: "A" })).toThrow(/already exists/);
    expect(() => createClass(db, p.id, { name: "b", hotkey: "1" })).toThrow(/hotkey 1 is already used by "a"/);
    expect(() => createClass(db, p.id, { name: "b", color: "red" })).toThrow(/colour/);
    expect(() => createClass(db, p.id, { name: "b\u0007" })).toThrow(/control characters/);
    expect(() => createProject(db, { name: "   " })).toThrow(/needs a name/);
  });

  it("renames, rekeys and reorders", () => {
    const p = createProject(db, { name: "x", classes: [{ name: "a" }, { name: "b" }, { name: "c" }] });
    const [a, b, c] = getProjectWithClasses(db, p.id).classes;
    expect(updateClass(db, p.id, a.id, { name: "<b>alpha</b>", hotkey: null })).toMatchObject({ name: "<b>alpha</b>", hotkey: null });
    expect(reorderClasses(db, p.id, [c.id, a.id, b.id]).map((r) => r.id)).toEqual([c.id, a.id, b.id]);
    expect(() => reorderClasses(db, p.id, [c.id, a.id])).toThrow(/exactly once/);
  });
});
