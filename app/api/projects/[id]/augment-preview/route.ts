import { getDb } from "@/lib/db/client";
import { z } from "zod";
import { apiRoute, parseId, parseJson } from "@/lib/http";
import { getAugmentPreview, queueAugmentPreview, saveAugmentToggles } from "@/lib/training/augment-preview";

/** The project's augmentation toggles and its latest preview (weak and strong views of its own images). */
export const GET = apiRoute<{ id: string }>((_req, { id }) => getAugmentPreview(getDb(), parseId(id, "id")));

/** Renders a fresh preview under the current toggles (an "augment.preview" job; poll GET). */
export const POST = apiRoute<{ id: string }>((_req, { id }) => queueAugmentPreview(getDb(), parseId(id, "id")));

/** Saves the toggles ({ flip, translate, cutout, disabledOps }): the next run trains with them. Queues a preview. */
export const PUT = apiRoute<{ id: string }>(async (req, { id }) => saveAugmentToggles(getDb(), parseId(id, "id"), await parseJson(req, z.unknown())));
