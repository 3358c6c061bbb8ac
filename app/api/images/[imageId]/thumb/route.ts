import { getDb } from "@/lib/db/client";
import { apiRoute, parseId } from "@/lib/http";
import { imageFileResponse } from "@/lib/media";

export const GET = apiRoute<{ imageId: string }>((_req, { imageId }) => imageFileResponse(getDb(), parseId(imageId, "imageId"), "thumb"));
