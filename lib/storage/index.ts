export { blobPath, thumbPath, stagingDir, isSha256, isInside, THUMB_FORMAT, THUMB_CONTENT_TYPE } from "./paths";
export { storeBlob } from "./blobs";
export { hashFile, newStagingPath, stagingOwnerOf, stagingPrefix, type StagingOwner, removeQuietly, writeAtomically, copyFileAtomically, exists } from "./files";
export { inspectImage, writeThumbnail, formatPixels, type ImageInfo, type ImageFormat, type InspectResult } from "./images";
