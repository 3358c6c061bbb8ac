"use client";

import { useState } from "react";
import { useRouter } from "next/navigation";
import { z } from "zod";
import { ApiError } from "@/app/lib/api";
import { useCreateProject } from "@/app/lib/hooks";
import { defaultHotkey, HOTKEYS, paletteColor } from "@/app/lib/palette";

interface ClassRow {
  key: number;
  name: string;
  color: string;
  /** null = "no key"; undefined = follow the row's position. */
  hotkey: string | null | undefined;
}

/** The same rules the server applies, so most mistakes are caught before a round trip. */
const projectSchema = z
  .object({
    name: z.string().trim().min(1, "a name is required").max(200, "at most 200 characters"),
    description: z.string().max(2000, "at most 2000 characters"),
    classes: z.array(
      z.object({
        name: z.string().trim().min(1, "a class name is required").max(100, "at most 100 characters"),
        color: z.string().regex(/^#[0-9a-fA-F]{6}$/, "a colour like #4e79a7"),
        hotkey: z.enum(HOTKEYS).nullable(),
      }),
    ),
  })
  .superRefine((p, ctx) => {
    const names = new Map<string, number>();
    const keys = new Map<string, number>();
    p.classes.forEach((c, i) => {
      const n = c.name.trim();
      if (names.has(n)) ctx.addIssue({ code: "custom", path: ["classes", i, "name"], message: `"${n}" is already a class` });
      names.set(n, i);
      if (c.hotkey) {
        if (keys.has(c.hotkey)) ctx.addIssue({ code: "custom", path: ["classes", i, "hotkey"], message: `key ${c.hotkey} is taken` });
        keys.set(c.hotkey, i);
      }
    });
  });

const hotkeyOf = (row: ClassRow, i: number) => (row.hotkey === undefined ? defaultHotkey(i) : row.hotkey);

export function NewProjectForm({ onCancel }: { onCancel?: () => void }) {
  const router = useRouter();
  const create = useCreateProject();
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [nextKey, setNextKey] = useState(2);
  const [rows, setRows] = useState<ClassRow[]>([{ key: 1, name: "", color: paletteColor(0), hotkey: undefined }]);
  const [errors, setErrors] = useState<Record<string, string>>({});

  const update = (i: number, patch: Partial<ClassRow>) => setRows((rs) => rs.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  const move = (i: number, delta: number) =>
    setRows((rs) => {
      const j = i + delta;
      if (j < 0 || j >= rs.length) return rs;
      const copy = [...rs];
      [copy[i], copy[j]] = [copy[j], copy[i]];
      return copy;
    });
  const addRow = () => {
    setRows((rs) => [...rs, { key: nextKey, name: "", color: paletteColor(rs.length), hotkey: undefined }]);
    setNextKey((k) => k + 1);
  };

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const candidate = {
      name,
      description,
      // Blank trailing rows are a convenience, not a class.
      classes: rows
        .map((r, i) => ({ name: r.name, color: r.color, hotkey: hotkeyOf(r, i) }))
        .filter((c, i, all) => c.name.trim() !== "" || all.slice(i + 1).some((x) => x.name.trim() !== "")),
    };
    const parsed = projectSchema.safeParse(candidate);
    if (!parsed.success) {
      const errs: Record<string, string> = {};
      for (const issue of parsed.error.issues) errs[issue.path.join(".")] ??= issue.message;
      setErrors(errs);
      return;
    }
    setErrors({});
    try {
      const project = await create.mutateAsync({
        name: parsed.data.name,
        description: parsed.data.description || undefined,
        classes: parsed.data.classes.map((c) => ({ name: c.name.trim(), color: c.color, hotkey: c.hotkey })),
      });
      router.push(`/projects/${project.id}`);
    } catch (err) {
      const field = err instanceof ApiError ? (err.field ?? "_form") : "_form";
      setErrors({ [field]: (err as Error).message });
    }
  }

  const fieldError = (path: string) =>
    errors[path] ? <p className="mt-1 text-xs text-red-400" data-testid={`error-${path}`}>{errors[path]}</p> : null;
  const knownFields = (k: string) => k === "name" || k === "description" || /^classes\.\d+\.(name|color|hotkey)$/.test(k);
  const otherErrors = Object.entries(errors).filter(([k]) => !knownFields(k));

  return (
    <form onSubmit={submit} className="flex flex-col gap-4 rounded-lg border border-zinc-800 bg-zinc-900 p-5" noValidate>
      <h2 className="text-base font-semibold">New project</h2>
      <label className="flex flex-col gap-1 text-sm">
        <span className="text-zinc-400">Name</span>
        <input
          data-testid="project-name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          className="rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 outline-none focus:border-sky-500"
          autoFocus
        />
        {fieldError("name")}
      </label>
      <label className="flex flex-col gap-1 text-sm">
        <span className="text-zinc-400">Description</span>
        <textarea
          data-testid="project-description"
          value={description}
          onChange={(e) => setDescription(e.target.value)}
          rows={2}
          className="rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 outline-none focus:border-sky-500"
        />
        {fieldError("description")}
      </label>
      <fieldset className="flex min-w-0 flex-col gap-2 text-sm">
        <legend className="mb-1 text-zinc-400">Classes (you can also create them later, or from folder names on import)</legend>
        {rows.map((row, i) => (
          <div key={row.key}>
            <div className="flex items-center gap-2">
              <input
                type="color"
                value={row.color}
                onChange={(e) => update(i, { color: e.target.value })}
                className="h-8 w-8 shrink-0 cursor-pointer rounded border border-zinc-700 bg-transparent"
                aria-label={`Colour of class ${i + 1}`}
              />
              <input
                data-testid={`class-name-${i}`}
                value={row.name}
                placeholder={`Class ${i + 1}`}
                onChange={(e) => update(i, { name: e.target.value })}
                onKeyDown={(e) => {
                  // Enter in the last row adds another: typing a class list is quick.
                  if (e.key === "Enter" && i === rows.length - 1) {
                    e.preventDefault();
                    addRow();
                  }
                }}
                className="min-w-0 flex-1 rounded border border-zinc-700 bg-zinc-950 px-2 py-1.5 outline-none focus:border-sky-500"
              />
              <select
                data-testid={`class-hotkey-${i}`}
                value={hotkeyOf(row, i) ?? ""}
                onChange={(e) => update(i, { hotkey: e.target.value === "" ? null : e.target.value })}
                className="rounded border border-zinc-700 bg-zinc-950 px-1 py-1.5"
                aria-label={`Hotkey of class ${i + 1}`}
              >
                <option value="">no key</option>
                {HOTKEYS.map((k) => (
                  <option key={k} value={k}>
                    key {k}
                  </option>
                ))}
              </select>
              <button type="button" onClick={() => move(i, -1)} disabled={i === 0} className="px-1 text-zinc-400 hover:text-white disabled:opacity-30" aria-label="Move up">
                ↑
              </button>
              <button type="button" onClick={() => move(i, 1)} disabled={i === rows.length - 1} className="px-1 text-zinc-400 hover:text-white disabled:opacity-30" aria-label="Move down">
                ↓
              </button>
              <button
                type="button"
                data-testid={`remove-class-${i}`}
                onClick={() => setRows((rs) => rs.filter((_, j) => j !== i))}
                className="px-1 text-zinc-400 hover:text-red-400"
                aria-label="Remove class"
              >
                ✕
              </button>
            </div>
            {fieldError(`classes.${i}.name`)}
            {fieldError(`classes.${i}.hotkey`)}
            {fieldError(`classes.${i}.color`)}
          </div>
        ))}
        <button
          type="button"
          data-testid="add-class"
          onClick={addRow}
          className="self-start rounded border border-dashed border-zinc-600 px-2 py-1 text-zinc-300 hover:border-zinc-400"
        >
          + Add class
        </button>
      </fieldset>
      {otherErrors.map(([k, m]) => (
        <p key={k} className="text-sm text-red-400" role="alert">
          {m}
        </p>
      ))}
      <div className="flex gap-2">
        <button
          type="submit"
          data-testid="create-project"
          disabled={create.isPending}
          className="rounded bg-sky-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-sky-500 disabled:opacity-50"
        >
          {create.isPending ? "Creating…" : "Create project"}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel} className="rounded px-3 py-1.5 text-sm text-zinc-300 hover:bg-zinc-800">
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}
