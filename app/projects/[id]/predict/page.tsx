import { notFound } from "next/navigation";
import { PredictView } from "@/app/components/PredictView";
import { requirePageToken } from "@/app/lib/page-auth";

/** Try a trained model on an image; the client view calls the predict API. */
export default async function PredictPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}/predict`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <PredictView projectId={projectId} />;
}
