/**
 * Frozen-backbone training: backbone features cached per image and view (cache.ts), instant heads
 * on the plain features (heads.ts: linear probe, class mean), and FixMatch on the cached views
 * (head-train.ts).
 */
export * from "./cache";
export * from "./heads";
export * from "./head-train";
export * from "./frozen-run";
