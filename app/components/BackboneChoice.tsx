"use client";

import { useEffect, useState } from "react";
import type { BackboneChoice as BackboneRef, BackboneAvailability } from "@/app/lib/api";
import { useUploadBackbone } from "@/app/lib/backbone-hooks";

const input = "w-full rounded border border-zinc-700 bg-zinc-950 px-1.5 py-1 text-xs outline-none focus:border-sky-500";

export type StartFrom = "mobilenet" | "custom" | "scratch";
export type BackboneMode = "frozen" | "finetune";
type CustomSource = "folder" | "url" | "upload";

/** What the form sends: the backbone (null: from scratch) and its mode; `incomplete` says what is missing. */
export type BackboneSelection = { backbone: BackboneRef | null; mode: BackboneMode; incomplete: string | null };

const ALPHAS = ["1.00", "0.75", "0.50", "0.35"] as const;
const SCALINGS = {
  "minus1to1": { label: "[-1, 1]: x / 127.5 − 1 (MobileNet, Keras 'tf' mode)", scale: 1 / 127.5, offset: -1 },
  "0to1": { label: "[0, 1]: x / 255", scale: 1 / 255, offset: 0 },
} as const;

/**
 * "Start from": ImageNet MobileNetV2 (the default whenever it is available), your own backbone
 * (a folder on the server, a URL, or an uploaded zip) or from scratch; and frozen vs fine-tune.
 * Never a silent fallback: when MobileNetV2 is not available the panel says why and what it
 * trains instead.
 */
export function BackboneChoice({
  availability,
  scratchModelLabel,
  gpu,
  onChange,
}: {
  availability: BackboneAvailability["mobilenet"] | undefined;
  scratchModelLabel: string;
  /** The worker's last backend was a GPU one: fine-tuning is sensible there. */
  gpu: boolean;
  onChange: (selection: BackboneSelection) => void;
}) {
  const [picked, setPicked] = useState<StartFrom | null>(null);
  // Until the user picks: MobileNetV2 when available, else from scratch (said below).
  const startFrom: StartFrom = picked ?? (availability?.available ? "mobilenet" : "scratch");
  const [alpha, setAlpha] = useState<(typeof ALPHAS)[number]>("1.00");
  const [mode, setMode] = useState<BackboneMode | null>(null);
  const effectiveMode: BackboneMode = mode ?? (gpu ? "finetune" : "frozen");
  const [source, setSource] = useState<CustomSource>("folder");
  const [folder, setFolder] = useState("");
  const [url, setUrl] = useState("");
  const [uploaded, setUploaded] = useState<{ source: string; layers: string[]; name: string } | null>(null);
  const [cutLayer, setCutLayer] = useState("");
  const [inputSize, setInputSize] = useState(224);
  const [scaling, setScaling] = useState<keyof typeof SCALINGS>("minus1to1");
  const upload = useUploadBackbone();

  useEffect(() => {
    let backbone: BackboneRef | null = null;
    let incomplete: string | null = null;
    if (startFrom === "mobilenet") {
      backbone = { kind: "mobilenet-v2", alpha };
      if (availability && !availability.available) incomplete = "ImageNet MobileNetV2 is not available (see above)";
    } else if (startFrom === "custom") {
      const src = source === "folder" ? folder.trim() : source === "url" ? url.trim() : (uploaded?.source ?? "");
      if (!src) incomplete = source === "upload" ? "upload your backbone's zip first" : `give your backbone's ${source}`;
      else if (!cutLayer.trim()) incomplete = "name the layer to cut at";
      const { scale, offset } = SCALINGS[scaling];
      backbone = { kind: "custom", source: src, cutLayer: cutLayer.trim(), preprocessing: { inputSize, channels: 3, scale, offset } };
    }
    onChange({ backbone, mode: effectiveMode, incomplete });
  }, [startFrom, alpha, effectiveMode, source, folder, url, uploaded, cutLayer, inputSize, scaling, availability, onChange]);

  return (
    <fieldset className="flex flex-col gap-1.5 rounded border border-zinc-800 px-2 py-1.5" data-testid="train-backbone">
      <legend className="px-1 text-xs text-zinc-400">Start from</legend>
      <label className="flex items-center gap-1.5 text-xs text-zinc-200">
        <input type="radio" name="start-from" checked={startFrom === "mobilenet"} disabled={availability !== undefined && !availability.available} onChange={() => setPicked("mobilenet")} data-testid="start-mobilenet" />
        ImageNet MobileNetV2
        {availability && (
          <span className={availability.cached ? "text-emerald-400" : availability.available ? "text-zinc-400" : "text-amber-400"} data-testid="mobilenet-status">
            {availability.cached ? "· downloaded" : availability.available ? "· not downloaded yet: the worker downloads it (~9–14 MB) on first use" : "· not available"}
          </span>
        )}
      </label>
      {availability && !availability.available && (
        <p className="rounded border border-amber-800 bg-amber-950/40 px-2 py-1 text-xs text-amber-300" data-testid="mobilenet-unavailable">
          ImageNet MobileNetV2 is not available: {availability.reason}
          {startFrom === "scratch" && <> This run trains <b>{scratchModelLabel}</b> from scratch instead.</>}
        </p>
      )}
      {startFrom === "mobilenet" && (
        <label className="ml-5 flex items-center gap-1 text-xs text-zinc-400">
          Width α
          <select className={`${input} w-20`} value={alpha} onChange={(e) => setAlpha(e.target.value as (typeof ALPHAS)[number])} data-testid="mobilenet-alpha">
            {ALPHAS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
          <span>224 px, 1280 features (cut at out_relu)</span>
        </label>
      )}

      <label className="flex items-center gap-1.5 text-xs text-zinc-200">
        <input type="radio" name="start-from" checked={startFrom === "custom"} onChange={() => setPicked("custom")} data-testid="start-custom" />
        Your own backbone (a TensorFlow.js layers model)
      </label>
      {startFrom === "custom" && (
        <div className="ml-5 grid grid-cols-2 gap-1.5">
          <select className={`${input} col-span-2`} value={source} onChange={(e) => setSource(e.target.value as CustomSource)} data-testid="custom-source-kind">
            <option value="folder">Folder on the server (under FIXLABEL_IMPORT_ROOT)</option>
            <option value="url">URL of model.json</option>
            <option value="upload">Upload a zip (model.json + .bin files)</option>
          </select>
          {source === "folder" && <input className={`${input} col-span-2`} placeholder="models/my-backbone" value={folder} onChange={(e) => setFolder(e.target.value)} data-testid="custom-folder" />}
          {source === "url" && <input className={`${input} col-span-2`} placeholder="https://…/model.json" value={url} onChange={(e) => setUrl(e.target.value)} data-testid="custom-url" />}
          {source === "upload" && (
            <div className="col-span-2 flex flex-col gap-0.5 text-xs text-zinc-400">
              <input
                type="file"
                accept=".zip,application/zip"
                className="text-xs"
                data-testid="custom-zip"
                onChange={(e) => {
                  const file = e.target.files?.[0];
                  if (!file) return;
                  upload.mutate(file, {
                    onSuccess: (r) => {
                      setUploaded({ source: r.source, layers: r.layers, name: file.name });
                      if (r.inputShape?.[1]) setInputSize(r.inputShape[1]);
                    },
                  });
                }}
              />
              {upload.isPending && <span>uploading and checking…</span>}
              {upload.error && <span className="text-red-400">{upload.error.message}</span>}
              {uploaded && <span className="text-emerald-400" data-testid="custom-uploaded">{uploaded.name}: stored, {uploaded.layers.length} layers</span>}
            </div>
          )}
          <label className="flex flex-col gap-0.5 text-xs text-zinc-400">
            Cut at layer
            {uploaded && source === "upload" ? (
              <select className={input} value={cutLayer} onChange={(e) => setCutLayer(e.target.value)} data-testid="custom-cut-layer">
                <option value="">choose…</option>
                {uploaded.layers.map((l) => (
                  <option key={l} value={l}>
                    {l}
                  </option>
                ))}
              </select>
            ) : (
              <input className={input} placeholder="out_relu" value={cutLayer} onChange={(e) => setCutLayer(e.target.value)} data-testid="custom-cut-layer" />
            )}
          </label>
          <label className="flex flex-col gap-0.5 text-xs text-zinc-400">
            Input size (px)
            <input type="number" min={8} max={512} className={input} value={inputSize} onChange={(e) => setInputSize(e.target.valueAsNumber)} data-testid="custom-input-size" />
          </label>
          <label className="col-span-2 flex flex-col gap-0.5 text-xs text-zinc-400">
            Pixel scaling it was trained with
            <select className={input} value={scaling} onChange={(e) => setScaling(e.target.value as keyof typeof SCALINGS)} data-testid="custom-scaling">
              {Object.entries(SCALINGS).map(([k, v]) => (
                <option key={k} value={k}>
                  {v.label}
                </option>
              ))}
            </select>
          </label>
        </div>
      )}

      <label className="flex items-center gap-1.5 text-xs text-zinc-200">
        <input type="radio" name="start-from" checked={startFrom === "scratch"} onChange={() => setPicked("scratch")} data-testid="start-scratch" />
        From scratch ({scratchModelLabel}): for images unlike photos
      </label>

      {startFrom !== "scratch" && (
        <div className="mt-1 flex flex-col gap-1 border-t border-zinc-800 pt-1.5 text-xs" data-testid="backbone-mode">
          <label className="flex items-start gap-1.5 text-zinc-200">
            <input type="radio" name="backbone-mode" checked={effectiveMode === "frozen"} onChange={() => setMode("frozen")} data-testid="mode-frozen" />
            <span>
              Frozen backbone <span className="text-zinc-500">(CPU, fast)</span>: features of each image and of a few augmented views are computed once; a linear probe gives proposals within seconds, then FixMatch trains a small head on the cached features.
            </span>
          </label>
          <label className="flex items-start gap-1.5 text-zinc-200">
            <input type="radio" name="backbone-mode" checked={effectiveMode === "finetune"} onChange={() => setMode("finetune")} data-testid="mode-finetune" />
            <span>
              Fine-tune <span className="text-zinc-500">(GPU server)</span>: FixMatch trains the top of the backbone end to end. Far slower per step; on a CPU it takes hours.
            </span>
          </label>
          {effectiveMode === "finetune" && !gpu && (
            <p className="text-amber-400" data-testid="finetune-cpu-warning">
              The worker&apos;s last run used a CPU backend: fine-tuning there is very slow. Frozen is the mode for CPUs.
            </p>
          )}
        </div>
      )}
    </fieldset>
  );
}
