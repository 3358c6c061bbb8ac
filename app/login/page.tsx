"use client";

import { Suspense, useState } from "react";
import { useRouter, useSearchParams } from "next/navigation";
import { apiFetch, ApiError } from "@/app/lib/api";

function LoginForm() {
  const router = useRouter();
  const search = useSearchParams();
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // Only same-site paths: an open redirect through ?next= would be a phishing aid.
  const nextParam = search.get("next");
  const next = nextParam && nextParam.startsWith("/") && !nextParam.startsWith("//") ? nextParam : "/";

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await apiFetch("/api/login", { method: "POST", json: { token } });
      router.replace(next);
      router.refresh();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That token is not valid." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="mx-auto mt-24 flex w-full max-w-sm flex-col gap-3 rounded-lg border border-zinc-800 bg-zinc-900 p-6">
      <h1 className="text-lg font-semibold">Access token</h1>
      <p className="text-sm text-zinc-400">This FixLabel server requires the token it was started with (FIXLABEL_TOKEN).</p>
      <input
        type="password"
        autoFocus
        autoComplete="current-password"
        data-testid="login-token"
        value={token}
        onChange={(e) => setToken(e.target.value)}
        className="rounded border border-zinc-700 bg-zinc-950 px-3 py-2 text-sm outline-none focus:border-sky-500"
        placeholder="Token"
      />
      {error && <p className="text-sm text-red-400">{error}</p>}
      <button
        type="submit"
        disabled={busy || token.length === 0}
        data-testid="login-submit"
        className="rounded bg-sky-600 px-3 py-2 text-sm font-medium text-white hover:bg-sky-500 disabled:opacity-50"
      >
        {busy ? "Checking…" : "Log in"}
      </button>
    </form>
  );
}

export default function LoginPage() {
  // useSearchParams needs a Suspense boundary so the page can still be prerendered.
  return (
    <Suspense>
      <LoginForm />
    </Suspense>
  );
}
