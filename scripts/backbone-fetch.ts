/**
 * `npm run backbone:fetch -- --alpha 1.00 [--out <folder>]`, or
 * `npm run backbone:fetch -- --url <model.json URL> --out <folder> [--cut-layer <layer>]`:
 * downloads a backbone's model.json and weight shards on a machine with internet, checks them and
 * writes them to a folder. Copy that folder to the FixLabel server: the error an offline server
 * shows names the exact folder (<data dir>/backbones/mobilenet-v2-<alpha>/).
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "@/lib/ml/backend";
import { backboneFolder, backboneUrl, parseBackboneArg, verifyBackboneFolder, type DownloadProgress } from "@/lib/ml/backbones";
import { downloadModel, readModelFolder } from "@/lib/ml/backbones/files";
import { MOBILENET_V2_ALPHAS, type BackboneRef } from "@/lib/ml/backbones/types";

const HELP = `Usage:
  npm run backbone:fetch -- --alpha <${MOBILENET_V2_ALPHAS.join("|")}> [--out <folder>]
  npm run backbone:fetch -- --url <model.json URL> --out <folder> [--cut-layer <layer>]

Downloads ImageNet MobileNetV2 (Keras, no top, as a TensorFlow.js layers model) or any tfjs layers
model, checks that every weight file matches model.json's manifest and that the weights load, and
writes the files. Without --out, MobileNetV2 goes where this machine's FixLabel looks for it:
<FIXLABEL_DATA_DIR or ./data>/backbones/mobilenet-v2-<alpha>/.`;

function progressPrinter(): (p: DownloadProgress) => void {
  let lastTenth = -1;
  return (p) => {
    const tenth = Math.floor((10 * p.bytesDone) / Math.max(1, p.bytesTotal));
    if (tenth !== lastTenth) {
      console.log(`${tenth * 10}%  ${(p.bytesDone / 1e6).toFixed(1)} / ${(p.bytesTotal / 1e6).toFixed(1)} MB  ${p.file}`);
      lastTenth = tenth;
    }
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { alpha: { type: "string" }, url: { type: "string" }, out: { type: "string" }, "cut-layer": { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help || (!values.alpha && !values.url)) {
    console.log(HELP);
    process.exit(values.help ? 0 : 2);
  }
  let ref: BackboneRef | null;
  let url: string;
  let dest: string;
  if (values.alpha) {
    ref = parseBackboneArg(`mobilenet-v2:${values.alpha}`);
    url = backboneUrl(ref)!;
    dest = values.out ? path.resolve(values.out) : backboneFolder(ref, path.resolve(process.env.FIXLABEL_DATA_DIR ?? "./data"));
  } else {
    if (!values.out) throw new Error("--url needs --out <folder>");
    url = values.url!;
    dest = path.resolve(values.out);
    ref = values["cut-layer"] ? parseBackboneArg(dest, { cutLayer: values["cut-layer"] }) : null;
  }
  await initBackend();
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  await downloadModel({
    url,
    dest,
    fetchImpl: (u) => fetch(u),
    onProgress: progressPrinter(),
    // Sizes are checked while downloading; with a ref, the weights must also load as that backbone.
    verify: async (folder) => {
      if (ref) {
        const { weights } = await verifyBackboneFolder(ref, folder);
        console.log(`the weights load: ${weights.toLocaleString("en-US")} weights`);
      } else await readModelFolder(folder);
    },
  });
  console.log(`ok: ${dest}`);
}

main().catch((err) => {
  const cause = err instanceof Error && err.cause instanceof Error ? ` (${err.cause.message})` : "";
  console.error(`${err instanceof Error ? err.message : String(err)}${cause}`);
  process.exit(1);
});
