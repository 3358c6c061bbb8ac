"use client";

import { isActiveJob, useProjectJobs } from "@/app/lib/hooks";
import { ProgressBar } from "./ProgressBar";

/** The project's running and queued jobs, small, in the header. */
export function JobsIndicator({ projectId }: { projectId: number }) {
  const jobs = useProjectJobs(projectId);
  const active = (jobs.data ?? []).filter(isActiveJob);
  if (active.length === 0) return null;
  return (
    // Wide enough for a training report in two lines ("step 30/500, loss 0.052, unlabeled 0.113, …, ETA 300 s").
    <div className="flex w-80 shrink-0 flex-col gap-1" data-testid="active-jobs">
      {active.slice(0, 3).map((j) => (
        <ProgressBar key={j.id} fraction={j.progress} label={`${j.type}: ${j.progressMessage ?? j.status}`} wrapLabel />
      ))}
      {active.length > 3 && <span className="text-xs text-zinc-500">+{active.length - 3} more</span>}
    </div>
  );
}
