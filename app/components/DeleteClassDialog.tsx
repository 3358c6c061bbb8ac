"use client";

import { useState } from "react";
import type { ClassDef } from "@/app/lib/api";
import type { DeleteClassLabels } from "@/app/lib/hooks";
import { ConfirmDialog } from "./ConfirmDialog";

interface DeleteClassDialogProps {
  target: ClassDef;
  labelCount: number;
  otherClasses: ClassDef[];
  busy: boolean;
  error: string | null;
  onChoose: (labels: DeleteClassLabels) => void;
  onCancel: () => void;
}

/** Shown when the server refuses to delete a class that still holds labels (409). */
export function DeleteClassDialog({ target, labelCount, otherClasses, busy, error, onChoose, onCancel }: DeleteClassDialogProps) {
  const [moveTo, setMoveTo] = useState<number | "">(otherClasses[0]?.id ?? "");
  const btn = "rounded px-3 py-1.5 text-sm disabled:opacity-50";
  return (
    <ConfirmDialog
      title="Delete class"
      onCancel={onCancel}
      actions={
        <>
          <button
            data-testid="delete-class-unlabel"
            disabled={busy}
            className={`${btn} bg-red-700 text-white hover:bg-red-600`}
            onClick={() => onChoose({ mode: "unlabel" })}
          >
            Unlabel them
          </button>
          {otherClasses.length > 0 && (
            <span className="inline-flex items-center gap-1">
              <button
                data-testid="delete-class-move"
                disabled={busy || moveTo === ""}
                className={`${btn} bg-sky-700 text-white hover:bg-sky-600`}
                onClick={() => moveTo !== "" && onChoose({ mode: "move", moveTo })}
              >
                Move them to
              </button>
              <select
                data-testid="delete-class-move-to"
                value={moveTo}
                onChange={(e) => setMoveTo(Number(e.target.value))}
                className="rounded border border-zinc-700 bg-zinc-950 px-1 py-1.5 text-sm"
              >
                {otherClasses.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </span>
          )}
          <button data-testid="delete-class-cancel" className={`${btn} text-zinc-300 hover:bg-zinc-800`} onClick={onCancel}>
            Cancel
          </button>
        </>
      }
    >
      <p>
        Class &lsquo;{target.name}&rsquo; holds {labelCount.toLocaleString()} label{labelCount === 1 ? "" : "s"}.
      </p>
      {error && <p className="mt-2 text-red-400">{error}</p>}
    </ConfirmDialog>
  );
}
