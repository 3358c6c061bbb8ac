import { notFound } from "next/navigation";
import { ModelsView } from "@/app/components/ModelsView";
import { requirePageToken } from "@/app/lib/page-auth";

/** The model page: each model version's held-out metrics, and two side by side; the client view loads them through the API. */
export default async function ModelsPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}/models`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <ModelsView projectId={projectId} />;
}
