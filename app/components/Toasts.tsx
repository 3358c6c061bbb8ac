"use client";

import { createContext, useCallback, useContext, useRef, useState, type ReactNode } from "react";

type ToastKind = "error" | "info";
type Toast = { id: number; message: string; kind: ToastKind };
type ShowToast = (message: string, kind?: ToastKind) => void;

const ToastContext = createContext<ShowToast>(() => {});

export const useToast = () => useContext(ToastContext);

/** Short-lived messages in the bottom-right corner; errors stay longer than info. */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((ts) => ts.filter((t) => t.id !== id)), []);

  const show = useCallback<ShowToast>(
    (message, kind = "error") => {
      const id = nextId.current++;
      setToasts((ts) => [...ts.slice(-4), { id, message, kind }]);
      setTimeout(() => dismiss(id), kind === "error" ? 6000 : 2500);
    },
    [dismiss],
  );

  return (
    <ToastContext.Provider value={show}>
      {children}
      <div className="pointer-events-none fixed right-4 bottom-4 z-50 flex flex-col gap-2" aria-live="polite">
        {toasts.map((t) => (
          <div
            key={t.id}
            role={t.kind === "error" ? "alert" : "status"}
            data-testid="toast"
            className={`pointer-events-auto flex max-w-sm items-start gap-3 rounded-md px-3 py-2 text-sm shadow-lg ${
              t.kind === "error" ? "bg-red-700 text-white" : "bg-zinc-800 text-zinc-100"
            }`}
          >
            <span className="flex-1">{t.message}</span>
            <button className="opacity-70 hover:opacity-100" onClick={() => dismiss(t.id)} aria-label="Dismiss">
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}
