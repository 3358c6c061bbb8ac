"use client";

import { useEffect, useRef, useState } from "react";
import { ApiError, type ClassDef } from "@/app/lib/api";
import { useCreateClass, useDeleteClass, useReorderClasses, useUpdateClass, type DeleteClassLabels } from "@/app/lib/hooks";
import { HOTKEYS, paletteColor } from "@/app/lib/palette";
import { useToast } from "./Toasts";
import { DeleteClassDialog } from "./DeleteClassDialog";

const inputCls = "rounded border border-zinc-700 bg-zinc-950 px-1.5 py-1 text-sm outline-none focus:border-sky-500";

/** Rename, recolour, rekey, reorder, add and delete classes. */
export function ClassSettings({ projectId, classes }: { projectId: number; classes: ClassDef[] }) {
  const toast = useToast();
  const createClass = useCreateClass(projectId);
  const updateClass = useUpdateClass(projectId);
  const reorder = useReorderClasses(projectId);
  const deleteClass = useDeleteClass(projectId);
  const [newName, setNewName] = useState("");
  const [addError, setAddError] = useState<string | null>(null);
  const [pendingDelete, setPendingDelete] = useState<{ target: ClassDef; labelCount: number; error: string | null } | null>(null);

  const move = (i: number, delta: number) => {
    const j = i + delta;
    if (j < 0 || j >= classes.length) return;
    const ids = classes.map((c) => c.id);
    [ids[i], ids[j]] = [ids[j], ids[i]];
    reorder.mutate(ids);
  };

  /** A key can belong to one class only: taking a key from another class frees it there first. */
  const setHotkey = async (cls: ClassDef, hotkey: string | null) => {
    const holder = hotkey ? classes.find((c) => c.id !== cls.id && c.hotkey === hotkey) : undefined;
    try {
      if (holder) await updateClass.mutateAsync({ classId: holder.id, patch: { hotkey: null } });
      await updateClass.mutateAsync({ classId: cls.id, patch: { hotkey } });
    } catch {
      // useUpdateClass already shows a toast
    }
  };

  const add = async (e: React.FormEvent) => {
    e.preventDefault();
    const name = newName.trim();
    if (!name) return;
    if (classes.some((c) => c.name === name)) {
      setAddError(`"${name}" is already a class`);
      return;
    }
    const used = new Set(classes.map((c) => c.hotkey));
    const hotkey = HOTKEYS.find((k) => !used.has(k)) ?? null;
    try {
      await createClass.mutateAsync({ name, color: paletteColor(classes.length), hotkey });
      setNewName("");
      setAddError(null);
    } catch (err) {
      setAddError((err as Error).message);
    }
  };

  const remove = async (target: ClassDef, labels: DeleteClassLabels) => {
    try {
      await deleteClass.mutateAsync({ classId: target.id, labels });
      setPendingDelete(null);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409 && labels.mode === "none") {
        const labelCount = typeof err.details.labelCount === "number" ? err.details.labelCount : 0;
        setPendingDelete({ target, labelCount, error: null });
      } else if (pendingDelete) {
        setPendingDelete({ ...pendingDelete, error: (err as Error).message });
      } else {
        toast(`Could not delete class: ${(err as Error).message}`);
      }
    }
  };

  return (
    <section className="flex flex-col gap-2" data-testid="class-settings">
      <h3 className="text-xs font-semibold tracking-wide text-zinc-400 uppercase">Classes</h3>
      {classes.length === 0 && <p className="text-xs text-zinc-500">No classes yet.</p>}
      <ul className="flex flex-col gap-1">
        {classes.map((c, i) => (
          <ClassRow
            key={c.id}
            cls={c}
            first={i === 0}
            last={i === classes.length - 1}
            onRename={(name) => updateClass.mutate({ classId: c.id, patch: { name } })}
            onRecolor={(color) => updateClass.mutate({ classId: c.id, patch: { color } })}
            onHotkey={(k) => setHotkey(c, k)}
            onMove={(d) => move(i, d)}
            onDelete={() => remove(c, { mode: "none" })}
          />
        ))}
      </ul>
      <form onSubmit={add} className="flex gap-1">
        <input
          data-testid="new-class-name"
          value={newName}
          onChange={(e) => setNewName(e.target.value)}
          placeholder="New class"
          className={`${inputCls} min-w-0 flex-1`}
        />
        <button
          type="submit"
          data-testid="new-class-add"
          disabled={createClass.isPending || !newName.trim()}
          className="rounded bg-zinc-800 px-2 text-sm hover:bg-zinc-700 disabled:opacity-50"
        >
          Add
        </button>
      </form>
      {addError && <p className="text-xs text-red-400">{addError}</p>}
      {pendingDelete && (
        <DeleteClassDialog
          target={pendingDelete.target}
          labelCount={pendingDelete.labelCount}
          otherClasses={classes.filter((c) => c.id !== pendingDelete.target.id)}
          busy={deleteClass.isPending}
          error={pendingDelete.error}
          onChoose={(labels) => remove(pendingDelete.target, labels)}
          onCancel={() => setPendingDelete(null)}
        />
      )}
    </section>
  );
}

interface ClassRowProps {
  cls: ClassDef;
  first: boolean;
  last: boolean;
  onRename: (name: string) => void;
  onRecolor: (color: string) => void;
  onHotkey: (hotkey: string | null) => void;
  onMove: (delta: number) => void;
  onDelete: () => void;
}

function ClassRow({ cls, first, last, onRename, onRecolor, onHotkey, onMove, onDelete }: ClassRowProps) {
  const [name, setName] = useState(cls.name);
  const [color, setColor] = useState(cls.color);
  const colorTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  // The server's value wins whenever it changes (after a save or someone else's edit):
  // adjusted during render, as React recommends, instead of in an effect.
  const [serverName, setServerName] = useState(cls.name);
  const [serverColor, setServerColor] = useState(cls.color);
  if (serverName !== cls.name) {
    setServerName(cls.name);
    setName(cls.name);
  }
  if (serverColor !== cls.color) {
    setServerColor(cls.color);
    setColor(cls.color);
  }
  useEffect(() => () => clearTimeout(colorTimer.current), []);

  const commitName = () => {
    const trimmed = name.trim();
    if (trimmed && trimmed !== cls.name) onRename(trimmed);
    else setName(cls.name);
  };

  const btn = "px-1 text-zinc-400 hover:text-white disabled:opacity-30";
  return (
    <li className="flex items-center gap-1" data-testid="class-row" data-class-id={cls.id}>
      <input
        type="color"
        value={color}
        aria-label={`Colour of ${cls.name}`}
        onChange={(e) => {
          // The picker fires continuously while dragging: save once it settles.
          const v = e.target.value;
          setColor(v);
          clearTimeout(colorTimer.current);
          colorTimer.current = setTimeout(() => onRecolor(v), 400);
        }}
        className="h-7 w-7 shrink-0 cursor-pointer rounded border border-zinc-700 bg-transparent"
      />
      <input
        value={name}
        aria-label={`Name of ${cls.name}`}
        data-testid={`class-rename-${cls.id}`}
        onChange={(e) => setName(e.target.value)}
        onBlur={commitName}
        onKeyDown={(e) => {
          if (e.key === "Enter") e.currentTarget.blur();
          if (e.key === "Escape") {
            setName(cls.name);
            e.currentTarget.blur();
          }
        }}
        className={`${inputCls} min-w-0 flex-1`}
      />
      <select
        value={cls.hotkey ?? ""}
        aria-label={`Hotkey of ${cls.name}`}
        data-testid={`class-hotkey-select-${cls.id}`}
        onChange={(e) => onHotkey(e.target.value === "" ? null : e.target.value)}
        className="rounded border border-zinc-700 bg-zinc-950 px-0.5 py-1 text-xs"
      >
        <option value="">–</option>
        {HOTKEYS.map((k) => (
          <option key={k} value={k}>
            {k}
          </option>
        ))}
      </select>
      <button className={btn} disabled={first} onClick={() => onMove(-1)} aria-label={`Move ${cls.name} up`}>
        ↑
      </button>
      <button className={btn} disabled={last} onClick={() => onMove(1)} aria-label={`Move ${cls.name} down`}>
        ↓
      </button>
      <button
        className="px-1 text-zinc-400 hover:text-red-400"
        onClick={onDelete}
        aria-label={`Delete ${cls.name}`}
        data-testid={`class-delete-${cls.id}`}
      >
        ✕
      </button>
    </li>
  );
}
