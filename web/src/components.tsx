import { useEffect, useId, useRef, type ReactNode } from "react";
import type { ApiError, ItemOutcome, RunStatus } from "./api.ts";
import { Link } from "./router.tsx";

export function Loading({ label }: { label: string }) {
  return (
    <p className="loading" role="status">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** The technical account an API error carries beside its sentence (`error.detail`), if any. */
function errorDetail(error: ApiError | Error | string): string | null {
  if (typeof error === "string" || !("body" in error)) return null;
  const detail = (error.body as { error?: { detail?: unknown } } | null)?.error?.detail;
  return typeof detail === "string" && detail !== "" ? detail : null;
}

/** An error as a sentence for people; the technical detail, when there is one, under "Details". */
export function ErrorMessage({ error, retry }: { error: ApiError | Error | string; retry?: () => void }) {
  const message = typeof error === "string" ? error : error.message;
  const detail = errorDetail(error);
  return (
    <div className="alert alert-error" role="alert">
      <p>{message}</p>
      {detail && <ErrorDetails detail={detail} />}
      {retry && (
        <button type="button" className="button secondary small" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** Technical detail (a request, a status, the server's own words) folded away under "Details". */
export function ErrorDetails({ detail }: { detail: string }) {
  return (
    <details className="error-details">
      <summary>Details</summary>
      <pre className="small">{detail}</pre>
    </details>
  );
}

export function Notice({
  kind = "info",
  children,
}: {
  kind?: "info" | "success" | "warning";
  children: ReactNode;
}) {
  return (
    <div className={`alert alert-${kind}`} role="status">
      {children}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}

const RUN_STATUS_LABELS: Record<RunStatus, string> = {
  running: "Running",
  "no-change": "No Change",
  success: "Success",
  warning: "Warning",
  error: "Error",
  abandoned: "Abandoned",
};

const RUN_STATUS_TONES: Record<RunStatus, Tone> = {
  running: "info",
  "no-change": "neutral",
  success: "ok",
  warning: "warn",
  error: "bad",
  abandoned: "warn",
};

type Tone = "ok" | "warn" | "bad" | "info" | "neutral";

export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function RunStatusBadge({ status }: { status: RunStatus }) {
  return <Badge tone={RUN_STATUS_TONES[status]}>{RUN_STATUS_LABELS[status] ?? status}</Badge>;
}

const OUTCOME_LABELS: Record<ItemOutcome, [string, Tone]> = {
  written: ["Written", "ok"],
  "found-existing": ["Already in PSA", "neutral"],
  planned: ["Planned", "info"],
  skipped: ["Skipped", "neutral"],
  warning: ["Warning", "warn"],
  error: ["Error", "bad"],
  held: ["Held for approval", "warn"],
};

export function OutcomeBadge({ outcome }: { outcome: ItemOutcome }) {
  const [label, tone] = OUTCOME_LABELS[outcome] ?? [outcome, "neutral"];
  return <Badge tone={tone}>{label}</Badge>;
}

/**
 * A modal built on the native <dialog>: it traps focus, closes on Escape and returns focus to the
 * button that opened it.
 */
export function Modal({
  title,
  onClose,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement as HTMLElement | null;
    if (!dialog.open) dialog.showModal();
    return () => {
      if (dialog.open) dialog.close();
      opener?.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className={wide ? "modal modal-wide" : "modal"}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <div className="modal-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" aria-label="Close" onClick={onClose}>
          ×
        </button>
      </div>
      <div className="modal-body">{children}</div>
    </dialog>
  );
}

export function Field({
  label,
  hint,
  error,
  children,
  id,
}: {
  label: ReactNode;
  hint?: ReactNode;
  error?: string | null;
  id: string;
  children: ReactNode;
}) {
  return (
    <div className={error ? "field field-invalid" : "field"}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint && (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      {error && (
        <p className="field-error" id={`${id}-error`} role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

/** aria-describedby for an input inside Field, naming the hint and error that are shown. */
export function describedBy(id: string, hint: boolean, error: boolean): string | undefined {
  const ids = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1 tabIndex={-1}>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}

const CONNECTION_TABS = [
  { key: "csp", label: "Customers", path: (id: string) => `/psa/${id}/csp` },
  { key: "products", label: "Products", path: (id: string) => `/psa/${id}/products` },
  { key: "pricing", label: "Pricing", path: (id: string) => `/psa/${id}/pricing` },
  { key: "runs", label: "Sync history", path: (id: string) => `/runs?connectionId=${id}` },
  { key: "settings", label: "Settings", path: (id: string) => `/psa/${id}/settings` },
] as const;

/** The pages of one connection's Microsoft CSP integration, as tabs. */
export function ConnectionTabs({
  id,
  current,
}: {
  id: string;
  current: (typeof CONNECTION_TABS)[number]["key"];
}) {
  return (
    <nav className="tabs" aria-label="Microsoft CSP">
      {CONNECTION_TABS.map((tab) => (
        <Link
          key={tab.key}
          to={tab.path(id)}
          className={tab.key === current ? "tab active" : "tab"}
          aria-current={tab.key === current ? "page" : undefined}
        >
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}
