/**
 * Runs @tensorflow/tfjs-backend-wasm's threaded-SIMD binary in Node.js, so XNNPACK uses every core
 * (as shipped, Node gets the single-threaded binary: tfjs issue #3830). Nothing in the package is
 * patched; three things the browser-only loader relies on are supplied around it:
 *  1. the WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to false under Node: set it to true;
 *  2. emscripten starts its pthread workers from blob: URLs, which worker_threads cannot load: the
 *     Blob texts are recorded and URL.createObjectURL writes each to a real file and returns its
 *     path; the worker's own createObjectURL returns the main script's file;
 *  3. the factory source handed to the workers refers to helpers of the bundle it came from
 *     (commonjsGlobal, require$$N, __values, __read, __spreadArray): they are prepended to it;
 *  4. the C++ side caps its pool at os.cpus().length / 2 (it assumes hyper-threads): os.cpus()
 *     reports enough cores while the module initialises, and is restored afterwards;
 *  5. emscripten ref()s each running pthread's worker, and XNNPACK's pool threads run forever, so
 *     a script would never exit: the workers made during initialisation ignore ref() (the main
 *     thread waits for them synchronously inside each kernel, never through the event loop).
 * Call enableWasmThreads() BEFORE the wasm backend initialises; call the returned restore() after.
 * Measured here (bench/throughput.ts): see the README's "Training backends" section.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import * as tf from "./tf";

// The CommonJS module object itself: emscripten reads os.cpus() through require("os"), and an ESM
// namespace import would be a frozen copy we could not patch.
const requireHere = createRequire(import.meta.url);
const osModule = requireHere("os") as typeof import("node:os") & { cpus: () => import("node:os").CpuInfo[] };
const workerThreads = requireHere("worker_threads") as { Worker: typeof import("node:worker_threads").Worker };

/** Helpers the bundled factory source refers to; the workers evaluate that source on its own. */
const BUNDLE_HELPERS = `
var commonjsGlobal = globalThis;
var require$$0 = require('fs'); var require$$1 = require('path');
var require$$2 = require('worker_threads');
var require$$3 = require('perf_hooks'); var require$$4 = require('os');
function __values(o){var s=typeof Symbol==="function"&&Symbol.iterator,m=s&&o[s],i=0;if(m)return m.call(o);if(o&&typeof o.length==="number")return{next:function(){if(o&&i>=o.length)o=void 0;return{value:o&&o[i++],done:!o}}};throw new TypeError("not iterable")}
function __read(o,n){var m=typeof Symbol==="function"&&o[Symbol.iterator];if(!m)return o;var i=m.call(o),r,ar=[],e;try{while((n===void 0||n-->0)&&!(r=i.next()).done)ar.push(r.value)}catch(error){e={error:error}}finally{try{if(r&&!r.done&&(m=i["return"]))m.call(i)}finally{if(e)throw e.error}}return ar}
function __spreadArray(to,from,pack){if(pack||arguments.length===2)for(var i=0,l=from.length,ar;i<l;i++){if(ar||!(i in from)){if(!ar)ar=Array.prototype.slice.call(from,0,i);ar[i]=from[i]}}return to.concat(ar||Array.prototype.slice.call(from))}
`;

const MAIN_SCRIPT_PREFIX = "var WasmBackendModuleThreadedSimd";

let enabled = false;

/** How many threads the wasm backend should use: FIXLABEL_WASM_THREADS, else every core. */
export function wantedWasmThreads(env: Record<string, string | undefined> = process.env, cores = osModule.cpus().length): number {
  const raw = env.FIXLABEL_WASM_THREADS?.trim();
  if (!raw) return Math.max(1, cores);
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FIXLABEL_WASM_THREADS=${JSON.stringify(raw)} must be a positive integer`);
  return n;
}

/**
 * Prepares the threaded binary for `threads` threads. Returns a function that undoes the temporary
 * os.cpus() report (call it once the backend is ready). Only the first call has an effect.
 */
export function enableWasmThreads(threads: number): () => void {
  if (enabled || threads < 2) return () => {};
  enabled = true;
  const dir = fs.mkdtempSync(path.join(osModule.tmpdir(), "fixlabel-wasm-threads-"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));

  const texts = new WeakMap<object, string>();
  let mainScriptPath = "";
  let files = 0;
  const OriginalBlob = globalThis.Blob;
  class RecordingBlob extends OriginalBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      super(parts, options);
      if (!parts?.every((p) => typeof p === "string")) return;
      const text = (parts as string[]).join("");
      texts.set(this, text);
      if (text.startsWith(MAIN_SCRIPT_PREFIX)) {
        mainScriptPath = path.join(dir, "main.js");
        fs.writeFileSync(mainScriptPath, BUNDLE_HELPERS + text);
      }
    }
  }
  globalThis.Blob = RecordingBlob as typeof Blob;
  const originalCreateObjectURL = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (blob: Blob) => {
    const text = texts.get(blob);
    if (text === undefined) return originalCreateObjectURL(blob);
    const file = path.join(dir, `worker${files++}.js`);
    const prelude = `URL.createObjectURL=()=>${JSON.stringify(mainScriptPath)};URL.revokeObjectURL=()=>{};\n`;
    fs.writeFileSync(file, prelude + text);
    return file;
  };

  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  const originalCpus = osModule.cpus;
  osModule.cpus = () => {
    const cpus = originalCpus();
    while (cpus.length < 2 * threads) cpus.push(cpus[0]);
    return cpus;
  };
  const OriginalWorker = workerThreads.Worker;
  workerThreads.Worker = class PthreadWorker extends OriginalWorker {
    override ref(): void {}
  };
  return () => {
    osModule.cpus = originalCpus;
    workerThreads.Worker = OriginalWorker;
  };
}
