import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { expect, it } from "vitest";
import { proportion } from "@/lib/review/evidence";
import { Evidence, evidenceText } from "./Evidence";

const render = (p: ReturnType<typeof proportion> | null, missing?: string) => renderToStaticMarkup(createElement(Evidence, { p, missing, testId: "acc" }));

it("renders 'not enough labels (n=3)' below the minimum, never a percentage", () => {
  const html = render(proportion(3, 3));
  expect(html).toContain("not enough labels (n=3)");
  expect(html).not.toMatch(/\d%/);
  expect(html).toContain('data-enough="false"');
});

it("renders the share with its interval and n from the minimum on, and the reason when there is no figure", () => {
  expect(render(proportion(30, 40))).toContain("75% [60–86%] (n=40)");
  expect(render(null, "not measured")).toContain("not measured");
  expect(evidenceText(proportion(1, 1))).toBe("not enough labels (n=1)");
});
