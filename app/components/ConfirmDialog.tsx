"use client";

import { useEffect, type ReactNode } from "react";

interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  /** The action buttons, rendered right-aligned. */
  actions: ReactNode;
  onCancel: () => void;
}

/**
 * A small modal. It marks itself with data-modal so the grid's keyboard handler stands down,
 * and closes on Escape.
 */
export function ConfirmDialog({ title, children, actions, onCancel }: ConfirmDialogProps) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onCancel();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onCancel]);

  return (
    <div data-modal="true" className="fixed inset-0 z-50 flex items-center justify-center bg-black/60" onClick={onCancel}>
      <div
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid="confirm-dialog"
        className="w-full max-w-md rounded-lg border border-zinc-700 bg-zinc-900 p-5 shadow-xl"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 className="mb-2 text-base font-semibold">{title}</h2>
        <div className="mb-4 text-sm text-zinc-300">{children}</div>
        <div className="flex flex-wrap justify-end gap-2">{actions}</div>
      </div>
    </div>
  );
}
