export * from "./types";
export * from "./queue";
export * from "./staging";
