"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { ApiError, apiFetch, type BackboneAvailability, type UploadedBackbone } from "./api";

/** Whether ImageNet MobileNetV2 is downloaded or downloadable (the server checks its URL, cached a minute). */
export function useBackboneAvailability() {
  return useQuery({
    queryKey: ["backbones", "availability"],
    queryFn: () => apiFetch<BackboneAvailability>("/api/backbones"),
    staleTime: 60_000,
  });
}

/** Uploads a zip holding a TensorFlow.js layers model; answers its stored source and layer names. */
export function useUploadBackbone() {
  return useMutation({
    mutationFn: async (file: File) => {
      if (!file.name.toLowerCase().endsWith(".zip")) throw new ApiError(400, "bad_request", "choose a .zip holding model.json and its .bin files");
      return apiFetch<UploadedBackbone>("/api/backbones", { method: "POST", body: file, headers: { "content-type": "application/zip" } });
    },
  });
}
