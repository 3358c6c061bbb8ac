"use client";

/**
 * TanStack Query hooks: the only way components read or change server data.
 * Query keys are built here so invalidation after a change is in one place.
 */
import { useCallback, useState } from "react";
import { useMutation, useQueries, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import {
  apiFetch,
  imagesQueryString,
  IMAGE_PAGE_SIZE,
  type ClassDef,
  type Counts,
  type ImageDetail,
  type ImageFilter,
  type ImageItem,
  type ImagePage,
  type Job,
  type Project,
  type ProjectSummary,
  type Proposal,
  type ProposalPage,
  proposalsQueryString,
  type ProposalSummary,
  type AuditSample,
  PROPOSAL_PAGE_SIZE,
  isActiveRun,
  type RunDetail,
  type StartRunInput,
  type TrainingRun,
  type ModelComparison,
  type ModelMetrics,
  type NextPicks,
  type SuspiciousPage,
  type UncertaintyMeasure,
} from "./api";
import { modelDownloadUrl, type ModelExportStatus, type PredictResult } from "./api";
import type { AugmentPreview as AugmentPreviewView, AugmentToggles as AugmentTogglesInput, RunSamples as RunSamplesView } from "./api";
import { useToast } from "@/app/components/Toasts";

export const filterKey = (f: ImageFilter) => (f.kind === "class" ? `class:${f.classId}` : f.kind);

export const queryKeys = {
  projects: ["projects"] as const,
  project: (id: number) => ["project", id] as const,
  counts: (id: number) => ["counts", id] as const,
  imagesAll: (id: number) => ["images", id] as const,
  imagesFilter: (id: number, f: ImageFilter) => ["images", id, filterKey(f)] as const,
  imagePage: (id: number, f: ImageFilter, page: number) => ["images", id, filterKey(f), page] as const,
  projectJobs: (id: number) => ["jobs", id] as const,
  job: (jobId: number) => ["job", jobId] as const,
  image: (imageId: number) => ["image", imageId] as const,
};

/** After imports, class deletes or undo, everything derived from labels and images is stale. */
export function invalidateProjectData(qc: QueryClient, projectId: number) {
  return Promise.all([
    qc.invalidateQueries({ queryKey: queryKeys.imagesAll(projectId) }),
    qc.invalidateQueries({ queryKey: queryKeys.counts(projectId) }),
    qc.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
    qc.invalidateQueries({ queryKey: queryKeys.projects }),
    qc.invalidateQueries({ queryKey: ["image"] }),
  ]);
}

// ---------- projects ----------

export function useProjects() {
  return useQuery({
    queryKey: queryKeys.projects,
    queryFn: () => apiFetch<{ projects: ProjectSummary[] }>("/api/projects").then((r) => r.projects),
  });
}

export interface NewProjectInput {
  name: string;
  description?: string;
  classes: { name: string; color?: string; hotkey?: string | null }[];
}

export function useCreateProject() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: NewProjectInput) =>
      apiFetch<{ project: Project }>("/api/projects", { method: "POST", json: input }).then((r) => r.project),
    onSettled: () => qc.invalidateQueries({ queryKey: queryKeys.projects }),
  });
}

export function useProject(projectId: number) {
  return useQuery({
    queryKey: queryKeys.project(projectId),
    queryFn: async () => {
      const r = await apiFetch<{ project: Project; classes: ClassDef[] }>(`/api/projects/${projectId}`);
      return { project: r.project, classes: [...r.classes].sort((a, b) => a.position - b.position) };
    },
  });
}

export function useCounts(projectId: number) {
  return useQuery({
    queryKey: queryKeys.counts(projectId),
    queryFn: () => apiFetch<Counts>(`/api/projects/${projectId}/counts`),
  });
}

// ---------- classes ----------

export function useCreateClass(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: { name: string; color?: string; hotkey?: string | null }) =>
      apiFetch<{ class: ClassDef }>(`/api/projects/${projectId}/classes`, { method: "POST", json: input }),
    onSettled: () => qc.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
  });
}

export function useUpdateClass(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: ({ classId, patch }: { classId: number; patch: { name?: string; color?: string; hotkey?: string | null } }) =>
      apiFetch(`/api/projects/${projectId}/classes/${classId}`, { method: "PATCH", json: patch }),
    onError: (e) => toast(`Could not update class: ${(e as Error).message}`),
    onSettled: () => qc.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
  });
}

export function useReorderClasses(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  type ProjectData = { project: Project; classes: ClassDef[] };
  return useMutation({
    mutationFn: (classIds: number[]) =>
      apiFetch(`/api/projects/${projectId}/classes/order`, { method: "PUT", json: { classIds } }),
    // Reordering is instant in the UI: the server only confirms it.
    onMutate: async (classIds) => {
      await qc.cancelQueries({ queryKey: queryKeys.project(projectId) });
      const prev = qc.getQueryData<ProjectData>(queryKeys.project(projectId));
      if (prev) {
        const byId = new Map(prev.classes.map((c) => [c.id, c]));
        const classes = classIds.flatMap((id, position) => {
          const c = byId.get(id);
          return c ? [{ ...c, position }] : [];
        });
        qc.setQueryData<ProjectData>(queryKeys.project(projectId), { ...prev, classes });
      }
      return { prev };
    },
    onError: (e, _v, ctx) => {
      if (ctx?.prev) qc.setQueryData(queryKeys.project(projectId), ctx.prev);
      toast(`Could not reorder classes: ${(e as Error).message}`);
    },
    onSettled: () => qc.invalidateQueries({ queryKey: queryKeys.project(projectId) }),
  });
}

export type DeleteClassLabels = { mode: "none" } | { mode: "unlabel" } | { mode: "move"; moveTo: number };

export function useDeleteClass(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: ({ classId, labels }: { classId: number; labels: DeleteClassLabels }) => {
      const q =
        labels.mode === "unlabel" ? "?labels=unlabel" : labels.mode === "move" ? `?labels=move&moveTo=${labels.moveTo}` : "";
      return apiFetch<{ ok: boolean; labelsAffected: number }>(`/api/projects/${projectId}/classes/${classId}${q}`, {
        method: "DELETE",
      });
    },
    onSuccess: () => invalidateProjectData(qc, projectId),
  });
}

// ---------- images ----------

/**
 * The grid's data: pages of IMAGE_PAGE_SIZE fetched by offset, only the pages asked for.
 * Page 0 is always fetched because it tells the total.
 */
/**
 * Folds the page queries of a virtualized grid into one map by page index, the total (from any
 * loaded page) and the first error.
 */
function combinePages<P extends { total: number }>(results: { data?: P; error: unknown }[], pageIndices: number[]) {
  const pages = new Map<number, P>();
  let total: number | null = null;
  let error: Error | null = null;
  results.forEach((r, i) => {
    if (r.data) {
      pages.set(pageIndices[i], r.data);
      total = r.data.total;
    }
    if (r.error) error = r.error as Error;
  });
  // Assigned inside the callback, which TypeScript's narrowing does not see.
  return { pages, total: total as number | null, error: error as Error | null };
}

/**
 * The page indices a virtualized grid has asked for so far (page 0 first), grown as rows of
 * `pageSize` items scroll into view; feed them to a page-query hook.
 */
export function useRequestedPages(pageSize: number) {
  const [requestedPages, setRequestedPages] = useState<number[]>([0]);
  const onVisibleRangeChange = useCallback(
    (first: number, last: number) => {
      const firstPage = Math.floor(first / pageSize);
      const lastPage = Math.floor(last / pageSize);
      setRequestedPages((prev) => {
        const missing: number[] = [];
        for (let p = firstPage; p <= lastPage; p++) if (!prev.includes(p)) missing.push(p);
        return missing.length ? [...prev, ...missing].sort((a, b) => a - b) : prev;
      });
    },
    [pageSize],
  );
  return { requestedPages, onVisibleRangeChange };
}

export function useImagePages(projectId: number, filter: ImageFilter, pageIndices: number[]) {
  return useQueries({
    queries: pageIndices.map((page) => ({
      queryKey: queryKeys.imagePage(projectId, filter, page),
      queryFn: () =>
        apiFetch<ImagePage>(`/api/projects/${projectId}/images?${imagesQueryString(filter, page * IMAGE_PAGE_SIZE)}`),
      staleTime: 30_000,
    })),
    combine: (results) => combinePages(results, pageIndices),
  });
}

export function itemAt(pages: Map<number, ImagePage>, index: number): ImageItem | undefined {
  return pages.get(Math.floor(index / IMAGE_PAGE_SIZE))?.items[index % IMAGE_PAGE_SIZE];
}

export function useImageDetail(imageId: number | null) {
  return useQuery({
    queryKey: queryKeys.image(imageId ?? 0),
    queryFn: () => apiFetch<ImageDetail>(`/api/images/${imageId}`),
    enabled: imageId !== null,
  });
}

// ---------- labels ----------

const setLabelsKey = (projectId: number) => ["setLabels", projectId] as const;
/**
 * Labeling requests of a project run one after another (TanStack's mutation scope): fast key presses
 * must reach the server in order, or an undo could overtake the label it should revert. The
 * optimistic onMutate still runs at once for each.
 */
const labelsScope = (projectId: number) => ({ id: `labels-${projectId}` });

type LabelSnapshot = { pages: [readonly unknown[], ImagePage | undefined][]; counts: Counts | undefined };

/**
 * Labels images with optimistic updates: the cached pages and counts change at once, a failure rolls
 * them back with a toast, and the server's answer wins on settle. In the Unlabeled filter a labeled
 * image stays in place (with its new badge) until the refetch drops it.
 */
export function useSetLabels(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: ({ imageIds, classId }: { imageIds: number[]; classId: number | null }) =>
      apiFetch<{ actionId: number; changed: number }>(`/api/projects/${projectId}/labels`, {
        method: "POST",
        json: { imageIds, classId },
      }),
    onMutate: async ({ imageIds, classId }): Promise<LabelSnapshot> => {
      await qc.cancelQueries({ queryKey: queryKeys.imagesAll(projectId) });
      await qc.cancelQueries({ queryKey: queryKeys.counts(projectId) });
      const snapshot: LabelSnapshot = {
        pages: qc.getQueriesData<ImagePage>({ queryKey: queryKeys.imagesAll(projectId) }),
        counts: qc.getQueryData<Counts>(queryKeys.counts(projectId)),
      };
      const wanted = new Set(imageIds);
      // The label each image has now, read from whichever cached page holds it, for the count deltas.
      const previous = new Map<number, number | null>();
      for (const [, page] of snapshot.pages) {
        for (const item of page?.items ?? []) {
          if (wanted.has(item.id) && !previous.has(item.id)) previous.set(item.id, item.label?.classId ?? null);
        }
      }
      const newLabel = classId === null ? null : { classId, source: "human" as const };
      qc.setQueriesData<ImagePage>({ queryKey: queryKeys.imagesAll(projectId) }, (page) =>
        page && page.items.some((i) => wanted.has(i.id))
          ? { ...page, items: page.items.map((i) => (wanted.has(i.id) ? { ...i, label: newLabel } : i)) }
          : page,
      );
      if (snapshot.counts) {
        const c: Counts = {
          ...snapshot.counts,
          byClass: { ...snapshot.counts.byClass },
          bySource: { ...snapshot.counts.bySource },
        };
        for (const [, prevClass] of previous) {
          if (prevClass === classId) continue;
          if (prevClass === null) c.unlabeled -= 1;
          else c.byClass[prevClass] = Math.max(0, (c.byClass[prevClass] ?? 0) - 1);
          if (classId === null) c.unlabeled += 1;
          else c.byClass[classId] = (c.byClass[classId] ?? 0) + 1;
        }
        qc.setQueryData(queryKeys.counts(projectId), c);
      }
      return snapshot;
    },
    onError: (e, _vars, snapshot) => {
      if (snapshot) {
        for (const [key, data] of snapshot.pages) qc.setQueryData(key, data);
        if (snapshot.counts) qc.setQueryData(queryKeys.counts(projectId), snapshot.counts);
      }
      toast(`Could not save label: ${(e as Error).message}`);
    },
    onSettled: () => {
      // While the user keeps labeling, a refetch would overwrite newer optimistic changes;
      // the last mutation to finish brings the cache back to the server's truth.
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) {
        return invalidateProjectData(qc, projectId);
      }
    },
  });
}

export function useUndoLabels(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: () =>
      apiFetch<{ undoneActionId: number | null; restored: number }>(`/api/projects/${projectId}/labels/undo`, {
        method: "POST",
        json: {},
      }),
    onSuccess: (r) => {
      if (r.undoneActionId === null) toast("Nothing to undo", "info");
    },
    onError: (e) => toast(`Could not undo: ${(e as Error).message}`),
    onSettled: () => {
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) return invalidateProjectData(qc, projectId);
    },
  });
}

// ---------- jobs ----------

export const isActiveJob = (j: Pick<Job, "status"> | undefined) => !!j && (j.status === "queued" || j.status === "running");

/** Polls one job every second until it ends. */
export function useJob(jobId: number) {
  return useQuery({
    queryKey: queryKeys.job(jobId),
    queryFn: () => apiFetch<{ job: Job }>(`/api/jobs/${jobId}`).then((r) => r.job),
    refetchInterval: (q) => (q.state.data && !isActiveJob(q.state.data) ? false : 1000),
  });
}

/** The project's jobs, polled while any is active (and slowly otherwise, to notice new ones). */
export function useProjectJobs(projectId: number) {
  return useQuery({
    queryKey: queryKeys.projectJobs(projectId),
    queryFn: () => apiFetch<{ jobs: Job[] }>(`/api/projects/${projectId}/jobs`).then((r) => r.jobs),
    refetchInterval: (q) => (q.state.data?.some(isActiveJob) ? 1000 : 5000),
    retry: false,
  });
}

export function useImportServerFolder(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (path: string) =>
      apiFetch<{ job: Job }>(`/api/projects/${projectId}/imports/folder`, { method: "POST", json: { path } }).then(
        (r) => r.job,
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: queryKeys.projectJobs(projectId) }),
  });
}

export function useInvalidateProject(projectId: number) {
  const qc = useQueryClient();
  return useCallback(() => invalidateProjectData(qc, projectId), [qc, projectId]);
}

// ---------- training runs ----------

export const trainingKeys = {
  /** Under the project's key on purpose: label and class changes invalidate it, so the "why not" of the Train button stays true. */
  runs: (projectId: number) => ["project", projectId, "runs"] as const,
  run: (runId: number) => ["run", runId] as const,
};

/** While a run is active, its list and charts refresh this often. */
const TRAINING_POLL_MS = 2000;

/** The project's runs (model versions) and why a new run cannot start (null when it can). */
export function useProjectRuns(projectId: number) {
  return useQuery({
    queryKey: trainingKeys.runs(projectId),
    queryFn: () => apiFetch<{ runs: TrainingRun[]; blocker: string | null }>(`/api/projects/${projectId}/runs`),
    refetchInterval: (q) => (q.state.data?.runs.some(isActiveRun) ? TRAINING_POLL_MS : false),
  });
}

/**
 * A run and all its progress rows. Each refetch asks only for rows after the last step it has and
 * appends them, so a long run's charts do not download their whole history every 2 s.
 */
export function useRunDetail(runId: number | null) {
  const qc = useQueryClient();
  return useQuery({
    queryKey: trainingKeys.run(runId ?? 0),
    enabled: runId !== null,
    queryFn: async () => {
      const prev = qc.getQueryData<RunDetail>(trainingKeys.run(runId!));
      const since = prev?.progress.at(-1)?.step;
      const r = await apiFetch<RunDetail>(`/api/runs/${runId}${since === undefined ? "" : `?sinceStep=${since}`}`);
      return since === undefined ? r : { run: r.run, progress: [...prev!.progress, ...r.progress] };
    },
    refetchInterval: (q) => (q.state.data && !isActiveRun(q.state.data.run) ? false : TRAINING_POLL_MS),
  });
}

export function useStartRun(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (input: StartRunInput) =>
      apiFetch<{ run: TrainingRun; job: Job }>(`/api/projects/${projectId}/runs`, { method: "POST", json: input }),
    onSettled: () =>
      Promise.all([
        qc.invalidateQueries({ queryKey: trainingKeys.runs(projectId) }),
        qc.invalidateQueries({ queryKey: queryKeys.projectJobs(projectId) }),
      ]),
  });
}

export function useStopRun(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (runId: number) => apiFetch<{ run: TrainingRun; job: Job }>(`/api/runs/${runId}/stop`, { method: "POST", json: {} }),
    onError: (e) => toast(`Could not stop the run: ${(e as Error).message}`),
    onSettled: (_r, _e, runId) =>
      Promise.all([
        qc.invalidateQueries({ queryKey: trainingKeys.runs(projectId) }),
        qc.invalidateQueries({ queryKey: trainingKeys.run(runId) }),
      ]),
  });
}

// ---------- dataset export ----------

/** What an export with these choices would hold (GET …/export/dataset?dryRun=1). */
export interface ExportPreview {
  count: number;
  train: number;
  val: number;
  byClass: Record<string, number>;
}

/**
 * `query` is the export's query string without dryRun. `labelsVersion` changes whenever the label
 * counts do (the caller derives it from useCounts), so labeling refreshes the preview. The
 * previous answer stays on screen while a new one loads.
 */
export function useExportPreview(projectId: number, query: string, labelsVersion: string, enabled: boolean) {
  return useQuery({
    queryKey: ["export-preview", projectId, query, labelsVersion] as const,
    enabled,
    queryFn: () => apiFetch<ExportPreview>(`/api/projects/${projectId}/export/dataset?${query}${query ? "&" : ""}dryRun=1`),
    placeholderData: (prev) => prev,
  });
}

// ---------- review of proposals ----------

/**
 * Under the project's key on purpose: every label change (here, on the labeling page, an undo)
 * invalidates the project, and with it which images are still proposals.
 */
export const reviewKeys = {
  all: (projectId: number) => ["project", projectId, "review"] as const,
  summary: (projectId: number) => ["project", projectId, "review", "summary"] as const,
  page: (projectId: number, runId: number, classId: number, minConfidence: number, page: number) =>
    ["project", projectId, "review", "proposals", runId, classId, minConfidence, page] as const,
};

/** The latest run's proposal counts and precision at every threshold of the slider. */
export function useProposalSummary(projectId: number) {
  return useQuery({
    queryKey: reviewKeys.summary(projectId),
    queryFn: () => apiFetch<ProposalSummary>(`/api/projects/${projectId}/proposals/summary`),
  });
}

/** A class's proposals at or above a confidence, in pages fetched as the grid scrolls to them (as useImagePages). */
export function useProposalPages(projectId: number, runId: number, classId: number, minConfidence: number, pageIndices: number[]) {
  return useQueries({
    queries: pageIndices.map((page) => ({
      queryKey: reviewKeys.page(projectId, runId, classId, minConfidence, page),
      queryFn: () =>
        apiFetch<ProposalPage>(
          `/api/projects/${projectId}/proposals?${proposalsQueryString({ runId, classId, minConfidence, offset: page * PROPOSAL_PAGE_SIZE })}`,
        ),
      staleTime: 30_000,
    })),
    combine: (results) => combinePages(results, pageIndices),
  });
}

export function proposalAt(pages: Map<number, ProposalPage>, index: number): Proposal | undefined {
  return pages.get(Math.floor(index / PROPOSAL_PAGE_SIZE))?.items[index % PROPOSAL_PAGE_SIZE];
}

export type AcceptProposalsInput =
  | { runId: number; imageIds: number[] }
  | { runId: number; classId: number; minConfidence: number; override?: boolean }
  | { runId: number; perClass: true };

/** Accepting goes in the labeling queue (same scope): an undo pressed right after must not overtake it. */
export function useAcceptProposals(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: (input: AcceptProposalsInput) =>
      apiFetch<{ accepted: number; skipped: number; actionId: number | null }>(`/api/projects/${projectId}/proposals/accept`, {
        method: "POST",
        json: input,
      }),
    onError: (e) => toast(`Could not accept: ${(e as Error).message}`),
    onSettled: () => {
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) return invalidateProjectData(qc, projectId);
    },
  });
}

export function useRejectProposals(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: (input: { runId: number; imageIds: number[] }) =>
      apiFetch<{ rejected: number }>(`/api/projects/${projectId}/proposals/reject`, { method: "POST", json: input }),
    onError: (e) => toast(`Could not reject: ${(e as Error).message}`),
    onSettled: () => {
      // Not just the review keys: an accept queued before this reject left the refresh to the last one.
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) return invalidateProjectData(qc, projectId);
    },
  });
}

/** An audit sample: fetched once per (run, class, floor, round) and kept, so answering does not reshuffle the tiles. */
export function useAuditSample(projectId: number, runId: number, classId: number | null, floor: number, round: number) {
  const query = new URLSearchParams({ runId: String(runId), threshold: String(floor), ...(classId === null ? {} : { classId: String(classId) }) });
  return useQuery({
    queryKey: ["audit-sample", projectId, runId, classId, floor, round] as const,
    queryFn: () => apiFetch<AuditSample>(`/api/projects/${projectId}/proposals/audit?${query}`),
    staleTime: Infinity,
    gcTime: 0,
  });
}

/** Audit answers are labels too: same queue as the other label writes, so Z never overtakes them. */
export function useAnswerAudit(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: (input: { runId: number; floor: number; answers: { imageId: number; classId: number }[] }) =>
      apiFetch<{ answered: number; correct: number; skipped: number }>(`/api/projects/${projectId}/proposals/audit`, { method: "POST", json: input }),
    onError: (e) => toast(`Could not save the answer: ${(e as Error).message}`),
    onSettled: () => {
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) return invalidateProjectData(qc, projectId);
    },
  });
}

export function useSetTargetPrecision(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationFn: (targetPrecision: number) => apiFetch(`/api/projects/${projectId}`, { method: "PATCH", json: { targetPrecision } }),
    onError: (e) => toast(`Could not change the target: ${(e as Error).message}`),
    onSettled: () => Promise.all([qc.invalidateQueries({ queryKey: queryKeys.project(projectId) }), qc.invalidateQueries({ queryKey: reviewKeys.all(projectId) })]),
  });
}

// ---------- label next, suspicious labels, model metrics ----------

export const insightKeys = {
  /**
   * Not under the project's key on purpose: every label would refetch the picks, and k-center
   * would reshuffle the list under the user's keys. The view refreshes them when asked or done.
   */
  next: (projectId: number, measure: UncertaintyMeasure) => ["next", projectId, measure] as const,
  /** Under the project's key: a label change refetches, and relabeled images drop out (the rest keep their order). */
  suspicious: (projectId: number, sources: string) => ["project", projectId, "suspicious", sources] as const,
  metrics: (runId: number) => ["run", runId, "metrics"] as const,
  compare: (runId: number, withRunId: number) => ["run", runId, "compare", withRunId] as const,
};

export function useNextPicks(projectId: number, measure: UncertaintyMeasure, limit = 60) {
  return useQuery({
    queryKey: insightKeys.next(projectId, measure),
    queryFn: () => apiFetch<NextPicks>(`/api/projects/${projectId}/next?${new URLSearchParams({ measure, limit: String(limit) })}`),
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    // A new visit gets fresh picks; within the page, only the view asks again.
    refetchOnMount: "always",
  });
}

export function useSuspiciousLabels(projectId: number, sources: string) {
  return useQuery({
    queryKey: insightKeys.suspicious(projectId, sources),
    queryFn: () => apiFetch<SuspiciousPage>(`/api/projects/${projectId}/suspicious?${new URLSearchParams({ sources })}`),
  });
}

/** Keep (dismiss) or un-keep suspicious labels; in the labeling queue, so an undo pressed right after waits for it. */
export function useKeepSuspicious(projectId: number) {
  const qc = useQueryClient();
  const toast = useToast();
  return useMutation({
    mutationKey: setLabelsKey(projectId),
    scope: labelsScope(projectId),
    mutationFn: ({ runId, imageIds, undo }: { runId: number; imageIds: number[]; undo?: boolean }) =>
      apiFetch<{ dismissed?: number; restored?: number }>(`/api/projects/${projectId}/suspicious/dismiss`, {
        method: undo ? "DELETE" : "POST",
        json: { runId, imageIds },
      }),
    onError: (e) => toast(`Could not save: ${(e as Error).message}`),
    onSettled: () => {
      if (qc.isMutating({ mutationKey: setLabelsKey(projectId) }) <= 1) return invalidateProjectData(qc, projectId);
    },
  });
}

export function useModelMetrics(runId: number | null) {
  return useQuery({
    queryKey: insightKeys.metrics(runId ?? 0),
    queryFn: () => apiFetch<ModelMetrics>(`/api/runs/${runId}/metrics`),
    enabled: runId !== null,
  });
}

export function useModelComparison(runId: number | null, withRunId: number | null) {
  return useQuery({
    queryKey: insightKeys.compare(runId ?? 0, withRunId ?? 0),
    queryFn: () => apiFetch<ModelComparison>(`/api/runs/${runId}/metrics/compare?with=${withRunId}`),
    enabled: runId !== null && withRunId !== null,
  });
}

// ---------- model download and prediction ----------

const MODEL_EXPORT_POLL_MS = 2000;

/** Whether a run's model files are ready to download; polls while a job is writing them. */
export function useModelExportStatus(projectId: number, runId: number | null) {
  return useQuery({
    queryKey: ["model-export", projectId, runId ?? 0] as const,
    enabled: runId !== null,
    queryFn: () => apiFetch<ModelExportStatus>(`${modelDownloadUrl(projectId, runId!)}&dryRun=1`),
    refetchInterval: (q) => {
      const job = q.state.data?.job;
      return job && (job.status === "queued" || job.status === "running") ? MODEL_EXPORT_POLL_MS : false;
    },
  });
}

/** For a run from before model exports: asking for the zip queues the job that writes it (202). */
export function usePrepareModelExport(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (runId: number) => apiFetch<ModelExportStatus>(modelDownloadUrl(projectId, runId)),
    onSettled: (_r, _e, runId) => qc.invalidateQueries({ queryKey: ["model-export", projectId, runId] }),
  });
}

/** One image through a run's model (the raw file as the body). */
export function usePredictImage(projectId: number) {
  return useMutation({
    mutationFn: ({ file, runId }: { file: File; runId: number | null }) =>
      apiFetch<PredictResult>(`/api/projects/${projectId}/predict${runId === null ? "" : `?runId=${runId}`}`, {
        method: "POST",
        body: file,
        headers: { "content-type": file.type || "application/octet-stream" },
      }),
  });
}

// ---------- how it learns ----------

/** A run's latest recorded training samples; refreshed while the run is live, fetched once when it has ended. */
export function useRunSamples(runId: number, live: boolean) {
  return useQuery({
    queryKey: ["run-samples", runId],
    queryFn: () => apiFetch<RunSamplesView>(`/api/runs/${runId}/samples`),
    refetchInterval: live ? TRAINING_POLL_MS * 2 : false,
  });
}

/** The project's augmentation toggles and latest preview; polls while the preview job runs. */
export function useAugmentPreview(projectId: number) {
  return useQuery({
    queryKey: ["augment-preview", projectId],
    queryFn: () => apiFetch<AugmentPreviewView>(`/api/projects/${projectId}/augment-preview`),
    refetchInterval: (q) => (q.state.data?.job && ["queued", "running"].includes(q.state.data.job.status) ? 1000 : false),
  });
}

/** Saves the toggles (PUT) or, without toggles, renders a fresh preview (POST). */
export function useUpdateAugmentPreview(projectId: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (toggles?: AugmentTogglesInput) =>
      apiFetch<AugmentPreviewView>(`/api/projects/${projectId}/augment-preview`, toggles ? { method: "PUT", json: toggles } : { method: "POST" }),
    onSuccess: (data) => qc.setQueryData(["augment-preview", projectId], data),
  });
}
