import { handleImportFolder, handleImportZip, handleThumbnailsRebuild } from "./handlers/import";
import { handleExportModel, handlePredict, handleTrain } from "./handlers/train";
import { handleAugmentPreview } from "./handlers/augment-preview";
import type { HandlerRegistry } from "./runner";

/** One handler per job type (lib/jobs/types.ts); the HandlerRegistry type makes a missing one a compile error. */
export const handlers: HandlerRegistry = {
  "import.zip": handleImportZip,
  "import.folder": handleImportFolder,
  "thumbnails.rebuild": handleThumbnailsRebuild,
  train: handleTrain,
  predict: handlePredict,
  "export.model": handleExportModel,
  "augment.preview": handleAugmentPreview,
};
