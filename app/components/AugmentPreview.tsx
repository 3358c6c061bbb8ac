"use client";

import type { AugmentToggles } from "@/app/lib/api";
import { thumbUrl } from "@/app/lib/api";
import { useAugmentPreview, useUpdateAugmentPreview } from "@/app/lib/hooks";

/**
 * The project's augmentation setting, with a preview: weak and strong views of its own images under
 * the current toggles, rendered by the worker with the trainer's ops. Turn an op off when it would
 * change a label (a flipped "b" is a "d"); the next run trains without it.
 */
export function AugmentPreview({ projectId }: { projectId: number }) {
  const preview = useAugmentPreview(projectId);
  const update = useUpdateAugmentPreview(projectId);
  const data = preview.data;
  if (!data) return null;
  const t = data.toggles;
  const save = (next: AugmentToggles) => update.mutate(next);
  const busy = data.job !== null && ["queued", "running"].includes(data.job.status);
  return (
    <details className="rounded border border-zinc-800 p-2 text-xs" data-testid="augment-preview">
      <summary className="cursor-pointer font-semibold tracking-wide text-zinc-400 uppercase">Augmentation</summary>
      <p className="mt-1 text-zinc-500">Saved for this project; the next run trains with these. Turn off anything that would change a label.</p>
      <div className="mt-1 flex flex-wrap gap-x-3 gap-y-1 text-zinc-300">
        <Toggle label="flip" checked={t.flip} onChange={(v) => save({ ...t, flip: v })} testId="aug-flip" disabled={update.isPending} />
        <Toggle label="translate" checked={t.translate} onChange={(v) => save({ ...t, translate: v })} testId="aug-translate" disabled={update.isPending} />
        <Toggle label="cutout" checked={t.cutout} onChange={(v) => save({ ...t, cutout: v })} testId="aug-cutout" disabled={update.isPending} />
        {data.opNames.map((op) => (
          <Toggle
            key={op}
            label={op}
            checked={!t.disabledOps.includes(op as AugmentToggles["disabledOps"][number])}
            onChange={(v) =>
              save({ ...t, disabledOps: v ? t.disabledOps.filter((o) => o !== op) : [...t.disabledOps, op as AugmentToggles["disabledOps"][number]] })
            }
            testId={`aug-op-${op}`}
            disabled={update.isPending}
          />
        ))}
      </div>
      <div className="mt-2 flex items-center gap-2">
        <button
          type="button"
          onClick={() => update.mutate(undefined)}
          disabled={busy || update.isPending}
          className="rounded border border-zinc-700 px-2 py-0.5 text-zinc-200 hover:bg-zinc-800 disabled:opacity-50"
          data-testid="aug-refresh"
        >
          {busy ? "Rendering…" : data.images.length > 0 ? "New draws" : "Show preview"}
        </button>
        {data.job?.status === "failed" && <span className="text-red-400">{data.job.error}</span>}
      </div>
      {data.images.length > 0 && !busy && (
        <table className="mt-2" data-testid="aug-grid">
          <tbody>
            {data.images.map((image) => (
              <tr key={image.imageId}>
                <td>
                  {/* eslint-disable-next-line @next/next/no-img-element -- tiny PNGs */}
                  <img src={thumbUrl(image.imageId)} alt="original" className="h-12 w-12 rounded object-cover" />
                </td>
                {image.views.map((v) => (
                  <td key={v.weak} className="px-0.5">
                    <div className="flex gap-0.5">
                      {/* eslint-disable-next-line @next/next/no-img-element -- tiny PNGs */}
                      <img src={v.weak} alt={`weak: ${v.weakOps}`} title={`weak: ${v.weakOps || "unchanged"}`} className="h-12 w-12" style={{ imageRendering: "pixelated" }} data-testid="aug-weak" data-ops={v.weakOpNames.join(",")} />
                      {/* eslint-disable-next-line @next/next/no-img-element -- tiny PNGs */}
                      <img src={v.strong} alt={`strong: ${v.strongOps}`} title={`strong: ${v.strongOps}`} className="h-12 w-12" style={{ imageRendering: "pixelated" }} data-testid="aug-strong" data-ops={v.strongOpNames.join(",")} />
                    </div>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}

function Toggle({ label, checked, onChange, testId, disabled }: { label: string; checked: boolean; onChange: (v: boolean) => void; testId: string; disabled: boolean }) {
  return (
    <label className="flex items-center gap-1">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} data-testid={testId} disabled={disabled} />
      {label}
    </label>
  );
}
