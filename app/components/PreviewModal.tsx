"use client";

import { formatBytes, originalUrl, type ClassDef, type ImageItem } from "@/app/lib/api";
import { useImageDetail } from "@/app/lib/hooks";

interface PreviewModalProps {
  item: ImageItem;
  index: number;
  total: number;
  classesById: Map<number, ClassDef>;
  onClose: () => void;
  onMove: (delta: number) => void;
}

const SOURCE_TEXT = { human: "by hand", imported: "imported", accepted_proposal: "accepted proposal" } as const;
const VIA_TEXT = { audit: "in an audit", gate: "through the audit gate", override: "gate overridden" } as const;

/**
 * A large view of the focused image. It has no key handling of its own: the page's keyboard handler
 * keeps working (labels, undo, left/right), and Esc or Space close it.
 */
export function PreviewModal({ item, index, total, classesById, onClose, onMove }: PreviewModalProps) {
  const detail = useImageDetail(item.id);
  const label = item.label ? classesById.get(item.label.classId) : undefined;
  const className = (id: number | null) => (id === null ? "none" : (classesById.get(id)?.name ?? `deleted class #${id}`));

  return (
    <div
      className="fixed inset-0 z-40 flex bg-black/85"
      data-testid="preview"
      role="dialog"
      aria-modal="true"
      aria-label={`Preview of ${item.name}`}
      onClick={onClose}
    >
      <div className="flex min-w-0 flex-1 items-center justify-center p-6">
        {/* eslint-disable-next-line @next/next/no-img-element -- the original, served as-is */}
        <img
          key={item.id}
          src={originalUrl(item.id)}
          alt={item.name}
          className="h-full w-full object-contain"
          // Small images (CIFAR's 32 px) are scaled up to fill the view; keep their pixels sharp.
          style={{ imageRendering: item.width < 256 ? "pixelated" : "auto" }}
          onClick={(e) => e.stopPropagation()}
        />
      </div>
      <aside className="flex w-80 shrink-0 flex-col gap-3 overflow-y-auto bg-zinc-900 p-4 text-sm" onClick={(e) => e.stopPropagation()}>
        <div className="flex items-center justify-between gap-2">
          <span className="text-zinc-400 tabular-nums">
            {index + 1} / {total}
          </span>
          <div className="flex gap-1">
            <button className="rounded px-2 py-0.5 hover:bg-zinc-800" onClick={() => onMove(-1)} aria-label="Previous image">
              ←
            </button>
            <button className="rounded px-2 py-0.5 hover:bg-zinc-800" onClick={() => onMove(1)} aria-label="Next image">
              →
            </button>
            <button className="rounded px-2 py-0.5 hover:bg-zinc-800" onClick={onClose} aria-label="Close preview">
              ✕
            </button>
          </div>
        </div>
        <div className="font-medium break-all" data-testid="preview-name">
          {item.name}
        </div>
        <div className="text-zinc-400">
          {item.width}×{item.height}
          {detail.data && ` · ${detail.data.image.format} · ${formatBytes(detail.data.image.bytes)}`}
        </div>
        <div className="flex items-center gap-2">
          <span className="text-zinc-400">Label</span>
          {label ? (
            <span className="rounded px-1.5 py-0.5 text-xs font-medium text-white" style={{ backgroundColor: label.color }}>
              {label.name}
            </span>
          ) : (
            <span className="text-zinc-500">unlabeled</span>
          )}
          {item.label && <span className="text-xs text-zinc-500">{SOURCE_TEXT[item.label.source]}</span>}
        </div>
        <div>
          <div className="mb-1 text-zinc-400">History</div>
          {detail.isPending && <div className="text-zinc-500">Loading…</div>}
          {detail.data && detail.data.history.length === 0 && <div className="text-zinc-500">No label changes yet.</div>}
          <ol className="flex flex-col gap-1 text-xs">
            {detail.data?.history.map((h, i) => (
              <li key={i} className="text-zinc-300">
                <span className="text-zinc-500">{new Date(h.createdAt).toLocaleString()}</span> {className(h.prevClassId)} →{" "}
                {className(h.classId)} <span className="text-zinc-500">({SOURCE_TEXT[h.source] ?? h.source}
                  {h.via ? `, ${VIA_TEXT[h.via]}` : ""}, {h.actor})</span>
              </li>
            ))}
          </ol>
        </div>
        <p className="mt-auto text-xs text-zinc-500">1-9 label · 0 unlabel · ←/→ move · Z undo · Esc/Space close</p>
      </aside>
    </div>
  );
}
