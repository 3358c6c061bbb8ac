import { notFound } from "next/navigation";
import { SuspiciousView } from "@/app/components/SuspiciousView";
import { requirePageToken } from "@/app/lib/page-auth";

/** Suspicious labels: labels the latest model confidently contradicts; the client view loads them through the API. */
export default async function SuspiciousPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}/suspicious`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <SuspiciousView projectId={projectId} />;
}
