"use client";

import Link from "next/link";
import { useProjects } from "@/app/lib/hooks";
import { NewProjectForm } from "./NewProjectForm";

export function ProjectList() {
  const projects = useProjects();

  return (
    <div className="mx-auto grid w-full max-w-6xl gap-6 overflow-y-auto p-6 md:grid-cols-[1fr_26rem]">
      <div className="flex min-w-0 flex-col gap-4">
      <h1 className="text-xl font-semibold">Projects</h1>
      {projects.isPending && <p className="text-sm text-zinc-400">Loading…</p>}
      {projects.error && <p className="text-sm text-red-400">Could not load projects: {projects.error.message}</p>}
      {projects.data && projects.data.length === 0 && (
        <p className="text-sm text-zinc-400">No projects yet. Create one, then drop a folder of images into it.</p>
      )}
      {projects.data && projects.data.length > 0 && (
        <ul className="divide-y divide-zinc-800 rounded-lg border border-zinc-800 bg-zinc-900" data-testid="project-list">
          {projects.data.map((p) => (
            <li key={p.id}>
              <Link href={`/projects/${p.id}`} className="flex items-center gap-4 px-4 py-3 hover:bg-zinc-800" data-testid="project-link">
                <div className="min-w-0 flex-1">
                  <div className="truncate font-medium">{p.name}</div>
                  {p.description && <div className="truncate text-sm text-zinc-400">{p.description}</div>}
                </div>
                <div className="shrink-0 text-right text-sm text-zinc-400 tabular-nums">
                  <div>{p.imageCount.toLocaleString()} {p.imageCount === 1 ? "image" : "images"}</div>
                  <div>{p.labeledCount.toLocaleString()} labeled</div>
                </div>
              </Link>
            </li>
          ))}
        </ul>
      )}
      </div>
      {/* Always open: creating a project is the first thing to do, and tests find the fields at once. */}
      <NewProjectForm />
    </div>
  );
}
