/**
 * Who may talk to FixLabel's server at all, decided from a request's headers alone (pure: no env,
 * no Next.js), and applied once, in proxy.ts, before any route runs.
 *
 * - Host: only names the server expects (loopback names with its port, plus FIXLABEL_ALLOWED_HOSTS).
 *   A page on evil.example that rebinds its DNS name to 127.0.0.1 still sends `Host: evil.example`,
 *   so this stops DNS rebinding.
 * - API routes, reading and writing: a browser request from another site is refused. Browsers send
 *   `Origin` on every cross-origin request and on every POST/PUT/PATCH/DELETE, and
 *   `Sec-Fetch-Site` on every request; a "simple" cross-site POST (text/plain, no preflight) is
 *   refused here. Clients that are not browsers (curl, scripts) send neither and are let through
 *   (the token, when set, still applies).
 */

export type HostEntry = { hostname: string; port: number | null };

export type GuardConfig = {
  /** The port the server listens on: loopback names are accepted with this port. */
  appPort: number;
  /** Extra names (FIXLABEL_ALLOWED_HOSTS, the bind address); an entry without a port matches the app's port or none. */
  allowedHosts: HostEntry[];
};

export type GuardHeaders = { host: string | null; origin: string | null; secFetchSite: string | null };

export type GuardVerdict = { ok: true } | { ok: false; status: 403; code: "forbidden"; message: string };

export const LOOPBACK_HOSTNAMES = ["127.0.0.1", "localhost", "[::1]"] as const;

/** Splits "name", "name:port", "[v6]:port" the way a browser would; null when it is not a bare host. */
export function parseHostEntry(value: string): HostEntry | null {
  const text = value.trim().toLowerCase();
  if (!text || /[/\\?#@\s*]/.test(text)) return null;
  let url: URL;
  try {
    url = new URL(`http://${text}`);
  } catch {
    return null;
  }
  if (!url.hostname) return null;
  return { hostname: url.hostname, port: url.port ? Number(url.port) : null };
}

/** A Host header (or an Origin's host) as hostname and effective port (no port: the scheme's default). */
function splitHost(hostHeader: string, defaultPort: number): { hostname: string; port: number } | null {
  const entry = parseHostEntry(hostHeader);
  if (!entry) return null;
  return { hostname: entry.hostname, port: entry.port ?? defaultPort };
}

function hostAllowed(host: { hostname: string; port: number }, config: GuardConfig, defaultPort: number): boolean {
  if ((LOOPBACK_HOSTNAMES as readonly string[]).includes(host.hostname) && host.port === config.appPort) return true;
  return config.allowedHosts.some((e) =>
    e.hostname === host.hostname && (e.port !== null ? e.port === host.port : host.port === config.appPort || host.port === defaultPort),
  );
}

const deny = (message: string): GuardVerdict => ({ ok: false, status: 403, code: "forbidden", message });

/**
 * The verdict for one request. `api` is whether the path is an API route: pages may be opened from a
 * link on another site (Sec-Fetch-Site: cross-site), API calls may not.
 */
export function checkRequest(headers: GuardHeaders, api: boolean, config: GuardConfig): GuardVerdict {
  const host = headers.host ? splitHost(headers.host, 80) : null;
  if (!host || !hostAllowed(host, config, 80)) {
    return deny(
      `this server does not answer to the host name "${headers.host ?? ""}" (allowed: loopback names on port ${config.appPort}, plus FIXLABEL_ALLOWED_HOSTS)`,
    );
  }
  if (!api) return { ok: true };
  const site = headers.secFetchSite?.trim().toLowerCase();
  // "same-site" is another port or subdomain of this name: a different web app, so refused too.
  if (site === "cross-site" || site === "same-site") return deny(`cross-site requests to the API are refused (Sec-Fetch-Site: ${site})`);
  if (headers.origin !== null) {
    let origin: URL | null = null;
    try {
      origin = headers.origin === "null" ? null : new URL(headers.origin);
    } catch {
      origin = null;
    }
    if (!origin || (origin.protocol !== "http:" && origin.protocol !== "https:")) {
      return deny(`requests from origin "${headers.origin}" are refused`);
    }
    const defaultPort = origin.protocol === "https:" ? 443 : 80;
    const originHost = splitHost(origin.host, defaultPort);
    if (!originHost || !hostAllowed(originHost, config, defaultPort)) {
      return deny(`requests from another site (Origin: ${origin.origin}) are refused`);
    }
  }
  return { ok: true };
}

const WILDCARD_BINDS = new Set(["0.0.0.0", "::", "[::]"]);

/** The guard's configuration from the app's settings: its port, FIXLABEL_ALLOWED_HOSTS and a specific bind address. */
export function guardConfig(opts: { port: number; bindHost: string; allowedHosts: HostEntry[] }): GuardConfig {
  const allowedHosts = [...opts.allowedHosts];
  if (!WILDCARD_BINDS.has(opts.bindHost)) {
    const bind = parseHostEntry(opts.bindHost.includes(":") && !opts.bindHost.startsWith("[") ? `[${opts.bindHost}]` : opts.bindHost);
    if (bind) allowedHosts.push({ hostname: bind.hostname, port: opts.port });
  }
  return { appPort: opts.port, allowedHosts };
}
