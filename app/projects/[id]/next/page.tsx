import { notFound } from "next/navigation";
import { NextView } from "@/app/components/NextView";
import { requirePageToken } from "@/app/lib/page-auth";

/** "Label next": the latest model's most useful unlabeled images; the client view loads them through the API. */
export default async function NextPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}/next`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <NextView projectId={projectId} />;
}
