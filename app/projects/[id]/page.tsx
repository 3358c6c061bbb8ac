import { notFound } from "next/navigation";
import { ProjectView } from "@/app/components/ProjectView";
import { requirePageToken } from "@/app/lib/page-auth";

/** Reads nothing itself: the client view loads the project through the API. */
export default async function ProjectPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  await requirePageToken(`/projects/${encodeURIComponent(id)}`);
  const projectId = Number(id);
  if (!Number.isInteger(projectId) || projectId <= 0) notFound();
  return <ProjectView projectId={projectId} />;
}
