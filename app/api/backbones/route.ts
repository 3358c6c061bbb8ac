import { apiRoute } from "@/lib/http";
import { mobileNetAvailability, receiveBackboneZip } from "@/lib/training/backbones";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** GET: whether ImageNet MobileNetV2 is downloaded or downloadable from this server (the panel's default), and why not. */
export const GET = apiRoute(async () => ({ mobilenet: await mobileNetAvailability() }));

/** POST a zip (body) holding a TensorFlow.js layers model: 201 { source, files, layers, inputShape }. */
export const POST = apiRoute(async (req) => Response.json(await receiveBackboneZip(req.body), { status: 201 }));
