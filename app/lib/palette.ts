/** Distinct, readable-on-dark colours for classes, picked in order (Tableau 10). */
export const CLASS_PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
] as const;

export const paletteColor = (i: number) => CLASS_PALETTE[i % CLASS_PALETTE.length];

/** Hotkeys are "1".."9"; positions beyond nine get none. */
export const defaultHotkey = (position: number) => (position < 9 ? String(position + 1) : null);

export const HOTKEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9"] as const;
