export * from "./types";
export * from "./queue";
