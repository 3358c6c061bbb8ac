"use client";

import { useCallback, useState } from "react";
import { formatDuration, type StartRunInput, type TrainingMode } from "@/app/lib/api";
import { useBackboneAvailability } from "@/app/lib/backbone-hooks";
import { useProjectRuns, useStartRun } from "@/app/lib/hooks";
import { MODEL_CHOICES, modelChoice, presetInfo, TRAINING_PRESETS, type TrainingSettings } from "@/lib/training/presets";
import { BackboneChoice, type BackboneSelection } from "./BackboneChoice";

const input = "w-full rounded border border-zinc-700 bg-zinc-950 px-1.5 py-1 text-xs outline-none focus:border-sky-500";

/** Only the settings that differ from the preset are sent, so the run's config says what was changed. */
function changedSettings(preset: TrainingSettings, settings: TrainingSettings): StartRunInput["overrides"] {
  const changed = Object.fromEntries(Object.entries(settings).filter(([k, v]) => preset[k as keyof TrainingSettings] !== v));
  return Object.keys(changed).length > 0 ? changed : undefined;
}

/** Preset picker, mode, collapsible advanced settings and the Train button (disabled with the reason). */
export function TrainForm({ projectId, blocker, onStarted }: { projectId: number; blocker: string | null; onStarted: (runId: number) => void }) {
  const start = useStartRun(projectId);
  const [presetName, setPresetName] = useState<string>(TRAINING_PRESETS[0].name);
  const [mode, setMode] = useState<TrainingMode>("fixmatch");
  const preset = presetInfo(presetName) ?? TRAINING_PRESETS[0];
  const [settings, setSettings] = useState<TrainingSettings>(preset.defaults);

  const pickPreset = (name: string) => {
    setPresetName(name);
    setSettings(presetInfo(name)?.defaults ?? TRAINING_PRESETS[0].defaults);
  };
  const set = <K extends keyof TrainingSettings>(key: K, value: TrainingSettings[K]) => setSettings((s) => ({ ...s, [key]: value }));
  const availability = useBackboneAvailability();
  const runs = useProjectRuns(projectId);
  const gpu = runs.data?.runs.find((r) => r.backend !== null)?.backend === "tfjs-node-gpu";
  const [selection, setSelection] = useState<BackboneSelection>({ backbone: null, mode: "frozen", incomplete: null });
  const onBackbone = useCallback((s: BackboneSelection) => setSelection(s), []);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const changed = changedSettings(preset.defaults, settings);
    // "From scratch" is sent as backbone: null: a request without the key gets the server's default start.
    const overrides = selection.backbone ? { ...changed, backbone: selection.backbone, backboneMode: selection.mode } : { ...changed, backbone: null };
    start.mutate({ mode, preset: preset.name, overrides }, { onSuccess: (r) => onStarted(r.run.id) });
  };
  const notReady = blocker ?? selection.incomplete;

  return (
    <form onSubmit={submit} className="flex flex-col gap-2" data-testid="train-form">
      <div className="flex gap-2">
        <label className="flex flex-1 flex-col gap-0.5 text-xs text-zinc-400">
          Preset
          <select className={input} value={presetName} onChange={(e) => pickPreset(e.target.value)} data-testid="train-preset">
            {TRAINING_PRESETS.map((p) => (
              <option key={p.name} value={p.name}>
                {p.label}
              </option>
            ))}
          </select>
        </label>
        <label className="flex w-32 flex-col gap-0.5 text-xs text-zinc-400">
          Mode
          <select className={input} value={mode} onChange={(e) => setMode(e.target.value as TrainingMode)} data-testid="train-mode">
            <option value="fixmatch">FixMatch</option>
            <option value="supervised">Supervised only</option>
          </select>
        </label>
      </div>
      <p className="text-xs text-zinc-500">{preset.description}</p>
      <BackboneChoice
        availability={availability.data?.mobilenet}
        scratchModelLabel={modelChoice(settings.model)?.label ?? settings.model}
        gpu={gpu}
        onChange={onBackbone}
      />

      <details className="rounded border border-zinc-800 px-2 py-1" data-testid="train-advanced">
        <summary className="cursor-pointer text-xs text-zinc-300">Advanced settings</summary>
        <AdvancedSettings settings={settings} onChange={set} />
      </details>

      <div className="flex items-center gap-2">
        <button
          type="submit"
          disabled={notReady !== null || start.isPending}
          title={notReady ?? undefined}
          className="rounded bg-sky-600 px-3 py-1 text-sm font-medium text-white hover:bg-sky-500 disabled:cursor-not-allowed disabled:opacity-40"
          data-testid="train-button"
        >
          {start.isPending ? "Queuing…" : "Train"}
        </button>
        {notReady && (
          <span className="text-xs text-amber-400" data-testid="train-blocked">
            {notReady}
          </span>
        )}
      </div>
      {start.error && (
        <p className="text-xs text-red-400" data-testid="train-error">
          {start.error.message}
        </p>
      )}
    </form>
  );
}

type NumberSetting = "inputSize" | "steps" | "batchSize" | "mu" | "threshold";

const NUMBER_FIELDS: { key: NumberSetting; label: string; min: number; max: number; step: number }[] = [
  { key: "inputSize", label: "Resolution (px)", min: 8, max: 256, step: 1 },
  { key: "steps", label: "Steps", min: 1, max: 2 ** 21, step: 1 },
  { key: "batchSize", label: "Batch B (labeled)", min: 1, max: 512, step: 1 },
  { key: "mu", label: "μ (unlabeled per labeled)", min: 1, max: 16, step: 1 },
  { key: "threshold", label: "Threshold τ", min: 0.5, max: 0.999, step: 0.005 },
];

function AdvancedSettings({
  settings,
  onChange,
}: {
  settings: TrainingSettings;
  onChange: <K extends keyof TrainingSettings>(key: K, value: TrainingSettings[K]) => void;
}) {
  return (
    <div className="mt-2 grid grid-cols-2 gap-2 pb-1">
      <label className="col-span-2 flex flex-col gap-0.5 text-xs text-zinc-400">
        Model
        <select className={input} value={settings.model} onChange={(e) => onChange("model", e.target.value as TrainingSettings["model"])} data-testid="train-model">
          {MODEL_CHOICES.map((m) => (
            <option key={m.name} value={m.name}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      {NUMBER_FIELDS.map((f) => (
        <label key={f.key} className="flex flex-col gap-0.5 text-xs text-zinc-400">
          {f.label}
          <input
            type="number"
            className={input}
            min={f.min}
            max={f.max}
            step={f.step}
            required
            value={Number.isNaN(settings[f.key]) ? "" : settings[f.key]}
            onChange={(e) => onChange(f.key, e.target.valueAsNumber)}
            data-testid={`train-${f.key}`}
          />
        </label>
      ))}
      <label
        className="flex flex-col gap-0.5 text-xs text-zinc-400"
        title="Train for this long (the decoding of images not counted), or until the steps are done if that comes first; the learning rate still decays to the end"
      >
        Time budget (min, blank: none)
        <input
          type="number"
          className={input}
          min={1}
          max={7 * 24 * 60}
          step={1}
          value={settings.timeBudgetS === null ? "" : settings.timeBudgetS / 60}
          onChange={(e) => onChange("timeBudgetS", Number.isNaN(e.target.valueAsNumber) ? null : Math.round(e.target.valueAsNumber * 60))}
          data-testid="train-timeBudgetMinutes"
        />
      </label>
      {settings.timeBudgetS !== null && (
        <p className="col-span-2 text-xs text-zinc-500" data-testid="train-budget-hint">
          Ends after {formatDuration(settings.timeBudgetS * 1000)} of training or {settings.steps} steps, whichever comes first: raise the steps to let the time decide.
        </p>
      )}
      <label className="col-span-2 flex items-center gap-1.5 text-xs text-zinc-400" title="Rescales pseudo-label probabilities so the classes keep the labeled set's proportions (ReMixMatch); helps when the model favours a few classes early">
        <input
          type="checkbox"
          checked={settings.distributionAlignment}
          onChange={(e) => onChange("distributionAlignment", e.target.checked)}
          data-testid="train-distributionAlignment"
        />
        Distribution alignment
      </label>
    </div>
  );
}
