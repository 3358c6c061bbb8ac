import net from "node:net";

/**
 * "Anything but loopback needs a token", checked against the address the web server REALLY
 * listens on (its sockets), not against FIXLABEL_HOST: `next start -H 0.0.0.0` or a bare
 * `next start` (which listens on every interface) must not serve the API without a token.
 */

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback; "localhost" as a name. Wildcards (0.0.0.0, ::) are not. */
export function isLoopbackAddress(address: string): boolean {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, "");
  if (a === "localhost" || a === "::1") return true;
  const v4 = a.startsWith("::ffff:") ? a.slice("::ffff:".length) : a;
  return net.isIPv4(v4) && v4.startsWith("127.");
}

/**
 * The address a `next start`/`next dev` command line asks for: its -H/--hostname value, or
 * "0.0.0.0" when it has none (Next.js then listens on every interface). Null: not a next command line.
 */
export function hostnameFromArgv(argv: readonly string[]): string | null {
  const cmd = argv.findIndex((a) => a === "start" || a === "dev");
  if (cmd < 0 || !argv.slice(0, cmd).some((a) => /(^|[/\\])next(\.js)?$/.test(a) || a.includes("next/dist/bin"))) return null;
  for (let i = cmd + 1; i < argv.length; i++) {
    const a = argv[i];
    if ((a === "-H" || a === "--hostname") && argv[i + 1]) return argv[i + 1];
    if (a.startsWith("--hostname=")) return a.slice("--hostname=".length);
  }
  return "0.0.0.0";
}

/** The addresses of this process's listening TCP servers (Node's active handles). */
export function listeningAddresses(): string[] {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  const out: string[] = [];
  for (const h of handles) {
    if (h instanceof net.Server && h.listening) {
      const addr = h.address();
      if (addr && typeof addr === "object") out.push(addr.address);
    }
  }
  return out;
}

/** Why this server must not run as it is (reachable beyond loopback without a token), or null. */
export function bindProblem(addresses: readonly string[], token: string | undefined): string | null {
  if (token) return null;
  const open = addresses.filter((a) => !isLoopbackAddress(a));
  if (open.length === 0) return null;
  return (
    `the web server listens on ${open.join(", ")}, reachable from other machines, and FIXLABEL_TOKEN is not set. ` +
    `Start it with \`npm start\` (FIXLABEL_HOST, default 127.0.0.1), or \`next start -H 127.0.0.1\`, or set FIXLABEL_TOKEN (16+ characters).`
  );
}

/** The check instrumentation.ts runs: the real sockets when the server already listens, else the command line. */
export function currentBindProblem(token: string | undefined): string | null {
  const sockets = listeningAddresses();
  const fromArgv = hostnameFromArgv(process.argv);
  const addresses = sockets.length > 0 ? sockets : fromArgv !== null ? [fromArgv] : [];
  return bindProblem(addresses, token);
}
