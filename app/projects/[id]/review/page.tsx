import { notFound } from "next/navigation";
import { ReviewView } from "@/app/components/ReviewView";
import { requirePageToken } from "@/app/lib/page-auth";

/** Review of the latest run's proposals; the client view loads everything through the API. */
export default async function ReviewPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}/review`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <ReviewView projectId={projectId} />;
}
