import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/lib/db/client";
import { projects } from "@/lib/db/schema";
import { getProject } from "./projects";

/**
 * A project's settings (projects.settings JSON). For now the augmentation toggles: which parts of
 * the default policy (lib/ml/augment DEFAULT_POLICY) the trainer uses for this project. The worker
 * turns them into an AugmentPolicy (worker/handlers/augment-preview.ts policyFromToggles).
 */

/** The RandAugment pool's op names (tfjs-free copy of lib/ml/augment/ops.ts STRONG_OP_NAMES; a test keeps them equal). */
export const AUGMENT_OP_NAMES = [
  "AutoContrast",
  "Brightness",
  "Color",
  "Contrast",
  "Equalize",
  "Identity",
  "Posterize",
  "Rotate",
  "Sharpness",
  "ShearX",
  "ShearY",
  "Solarize",
  "TranslateX",
  "TranslateY",
] as const;

export const augmentToggles = z.object({
  flip: z.boolean(),
  translate: z.boolean(),
  cutout: z.boolean(),
  /** RandAugment ops turned off for this project. */
  disabledOps: z.array(z.enum(AUGMENT_OP_NAMES)).max(AUGMENT_OP_NAMES.length),
});
export type AugmentToggles = z.infer<typeof augmentToggles>;

export const DEFAULT_AUGMENT_TOGGLES: AugmentToggles = { flip: true, translate: true, cutout: true, disabledOps: [] };

type ProjectSettings = { augment?: AugmentToggles };

export function getAugmentToggles(db: Db, projectId: number): AugmentToggles {
  const settings = (getProject(db, projectId).settings ?? {}) as ProjectSettings;
  const parsed = augmentToggles.safeParse(settings.augment);
  return parsed.success ? parsed.data : DEFAULT_AUGMENT_TOGGLES;
}

export function setAugmentToggles(db: Db, projectId: number, input: unknown): AugmentToggles {
  const toggles = augmentToggles.parse(input);
  const settings = (getProject(db, projectId).settings ?? {}) as ProjectSettings;
  db.update(projects).set({ settings: { ...settings, augment: toggles } }).where(eq(projects.id, projectId)).run();
  return toggles;
}
