/** Collects the per-class figures of "How it learns" over a logging window (the type: lib/training/per-class-figures.ts). */
import type { PerClassFigures } from "@/lib/training/per-class-figures";

export type { PerClassFigures };

export class PerClassWindow {
  private seen: number[];
  private passed: number[];
  private heldPassed: number[];
  private heldRight: number[];

  constructor(private readonly numClasses: number) {
    this.seen = new Array<number>(numClasses).fill(0);
    this.passed = new Array<number>(numClasses).fill(0);
    this.heldPassed = new Array<number>(numClasses).fill(0);
    this.heldRight = new Array<number>(numClasses).fill(0);
  }

  /** One step: pseudo-labels and mask of the unlabeled batch, and the human label of each image where it is held out. */
  add(pseudo: ArrayLike<number>, mask: ArrayLike<number>, truth: readonly (number | undefined)[]): void {
    for (let i = 0; i < pseudo.length; i++) {
      const c = pseudo[i];
      this.seen[c]++;
      if (mask[i] === 0) continue;
      this.passed[c]++;
      const t = truth[i];
      if (t === undefined) continue;
      this.heldPassed[t]++;
      if (t === c) this.heldRight[t]++;
    }
  }

  /** The window's figures; starts a new window. */
  take(): PerClassFigures {
    const ratio = (a: number[], b: number[]) => a.map((v, c) => (b[c] > 0 ? v / b[c] : null));
    const out = { maskRate: ratio(this.passed, this.seen), pseudoAcc: ratio(this.heldRight, this.heldPassed), seen: this.seen, passed: this.passed };
    this.seen = new Array<number>(this.numClasses).fill(0);
    this.passed = new Array<number>(this.numClasses).fill(0);
    this.heldPassed = new Array<number>(this.numClasses).fill(0);
    this.heldRight = new Array<number>(this.numClasses).fill(0);
    return out;
  }
}
