import { useState, type FormEvent } from "react";
import { api, VENDOR_LABELS, type ConnectionTest, type ConnectionView, type Vendor } from "../api.ts";
import {
  Badge,
  describedBy,
  EmptyState,
  ErrorDetails,
  ErrorMessage,
  Field,
  Loading,
  Modal,
  PageHeader,
  RunStatusBadge,
} from "../components.tsx";
import { formatInstant } from "../format.ts";
import { useAction, useDocumentTitle, useInvalidate, useSession } from "../hooks.ts";
import { useConnections } from "../Layout.tsx";
import { Link } from "../router.tsx";

type FieldSpec = {
  /** Path in the request body, as the API names it in validation errors (e.g. `config.site`). */
  path: `config.${string}` | `secrets.${string}` | "name";
  label: string;
  hint?: string;
  type?: "text" | "url";
  optional?: boolean;
};

const FIELDS: Record<Vendor, FieldSpec[]> = {
  connectwise: [
    { path: "name", label: "Name" },
    {
      path: "config.site",
      label: "Site",
      type: "url",
      hint: "Your ConnectWise server, e.g. https://na.myconnectwise.net",
    },
    { path: "config.companyId", label: "Company ID", hint: "The company you sign in to ConnectWise with." },
    { path: "config.publicKey", label: "Public key", hint: "From the API member's API keys." },
    { path: "secrets.privateKey", label: "Private key" },
    {
      path: "config.clientId",
      label: "Client ID",
      hint: "Your clientId from the ConnectWise developer portal.",
    },
  ],
  autotask: [
    { path: "name", label: "Name" },
    { path: "config.username", label: "API user name", hint: "The API user (API-only security level)." },
    { path: "secrets.secret", label: "Secret" },
    { path: "secrets.integrationCode", label: "Tracking identifier (integration code)" },
    {
      path: "config.discoveryUrl",
      label: "Zone discovery URL",
      type: "url",
      optional: true,
      hint: "Leave empty to use Autotask's public zone discovery.",
    },
  ],
};

const VENDOR_BLURB: Record<Vendor, string> = {
  connectwise: "Writes Seat-based Annual charges as additions on One-Time agreements.",
  autotask: "Writes Seat-based Annual charges as contract charges on Fixed Price contracts.",
};

function fieldId(path: string): string {
  return `conn-${path.replace(/\./g, "-")}`;
}

function initialValues(vendor: Vendor, existing: ConnectionView | null): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of FIELDS[vendor]) {
    if (field.path === "name") values.name = existing?.name ?? VENDOR_LABELS[vendor];
    else if (field.path.startsWith("config.")) {
      const value = existing?.config[field.path.slice("config.".length)];
      values[field.path] = typeof value === "string" ? value : "";
    } else values[field.path] = "";
  }
  return values;
}

type SaveResult = { connection: ConnectionView; test: ConnectionTest | null; testError: string | null };

/** Connect (create) or edit a connection; saving also tests it, like the original's "check" button. */
function ConnectionForm({
  vendor,
  existing,
  onClose,
}: {
  vendor: Vendor;
  existing: ConnectionView | null;
  onClose: () => void;
}) {
  const invalidate = useInvalidate();
  // A saved (or tested) connection changes the list, the menu and the dashboard's cards.
  const onSaved = () => invalidate("/api/connections", "/api/dashboard");
  const [values, setValues] = useState(() => initialValues(vendor, existing));
  const [result, setResult] = useState<SaveResult | null>(null);
  const save = useAction(async (saveAnyway: boolean = false): Promise<SaveResult> => {
    const config: Record<string, string> = {};
    const secrets: Record<string, string> = {};
    for (const field of FIELDS[vendor]) {
      const value = values[field.path]?.trim() ?? "";
      if (field.path.startsWith("config.")) {
        if (value !== "" || !field.optional) config[field.path.slice(7)] = value;
      } else if (field.path.startsWith("secrets.")) {
        // Secrets are write-only: an empty box when editing keeps the stored value.
        if (value !== "" || !existing) secrets[field.path.slice(8)] = value;
      }
    }
    const name = values.name?.trim() ?? "";
    if (existing) {
      // An existing connection is tested with the new values before they are saved: a typo must never
      // replace credentials that work. The server answers 422 (field "test") and saves nothing when the
      // test fails, unless "save anyway" was chosen.
      const { connection } = await api.patch<{ connection: ConnectionView }>(
        `/api/connections/${existing.id}`,
        {
          name,
          config,
          ...(Object.keys(secrets).length ? { secrets } : {}),
          test: true,
          ...(saveAnyway ? { saveAnyway: true } : {}),
        },
      );
      onSaved();
      const test = connection.lastTest
        ? { ok: connection.lastTest.ok, message: connection.lastTest.message, checks: [] }
        : null;
      return { connection, test, testError: null };
    }
    const { connection } = await api.post<{ connection: ConnectionView }>("/api/connections", {
      vendor,
      name,
      config,
      secrets,
    });
    onSaved();
    try {
      const test = await api.post<ConnectionTest>(`/api/connections/${connection.id}/test`);
      onSaved();
      return { connection, test, testError: null };
    } catch (error) {
      return { connection, test: null, testError: error instanceof Error ? error.message : String(error) };
    }
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const saved = await save.run();
    if (saved) setResult(saved);
  };

  const title = existing ? `Edit ${existing.name}` : `Connect ${VENDOR_LABELS[vendor]}`;
  if (result)
    return (
      <Modal title={title} onClose={onClose}>
        <p>
          <strong>{result.connection.name}</strong> is saved.
        </p>
        {result.test && <TestResult test={result.test} />}
        {result.testError && (
          <ErrorMessage error={`The connection test could not run: ${result.testError}`} />
        )}
        <div className="form-actions">
          <Link to={`/psa/${result.connection.id}/settings`} className="button secondary" onClick={onClose}>
            PSA settings
          </Link>
          <button type="button" className="button primary" onClick={onClose}>
            Done
          </button>
        </div>
      </Modal>
    );

  const fieldError = (path: string) => (save.error?.field === path ? save.error.message : null);
  const generalError = save.error && !FIELDS[vendor].some((f) => f.path === save.error?.field);

  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={submit} className="form">
        {FIELDS[vendor].map((field) => {
          const id = fieldId(field.path);
          const isSecret = field.path.startsWith("secrets.");
          const secretSet = isSecret && existing?.secretsSet[field.path.slice(8)];
          const hint = secretSet
            ? "Set. Leave empty to keep it, or type a new value to replace it."
            : field.hint;
          const error = fieldError(field.path);
          return (
            <Field
              key={field.path}
              id={id}
              label={
                <>
                  {field.label}
                  {field.optional && <span className="muted"> (optional)</span>}
                  {secretSet && (
                    <>
                      {" "}
                      <Badge tone="ok">set</Badge>
                    </>
                  )}
                </>
              }
              hint={hint}
              error={error}
            >
              <input
                id={id}
                name={field.path}
                type={isSecret ? "password" : (field.type ?? "text")}
                autoComplete={isSecret ? "new-password" : "off"}
                spellCheck={false}
                required={!field.optional && !secretSet}
                aria-invalid={error ? true : undefined}
                aria-describedby={describedBy(id, Boolean(hint), Boolean(error))}
                placeholder={secretSet ? "•••••••• (unchanged)" : undefined}
                value={values[field.path] ?? ""}
                onChange={(e) => setValues((v) => ({ ...v, [field.path]: e.target.value }))}
              />
            </Field>
          );
        })}
        {existing && !existing.credentialsReadable && (
          <p className="alert alert-error" role="status">
            {credentialsUnreadableMessage(existing)} Enter every credential again to save.
          </p>
        )}
        {generalError && save.error && <ErrorMessage error={save.error} />}
        <div className="form-actions">
          <button type="button" className="button secondary" onClick={onClose}>
            Cancel
          </button>
          {save.error?.field === "test" && (
            <button
              type="button"
              className="button danger"
              disabled={save.busy}
              onClick={() => void save.run(true).then((saved) => saved && setResult(saved))}
            >
              Save anyway
            </button>
          )}
          <button type="submit" className="button primary" disabled={save.busy}>
            {save.busy ? "Saving and testing…" : existing ? "Save and test" : "Connect"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function TestResult({ test }: { test: ConnectionTest }) {
  return (
    <div className={test.ok ? "alert alert-success" : "alert alert-error"} role="status">
      <p>
        <strong>{test.ok ? "Connection test passed." : "Connection test failed."}</strong> {test.message}
      </p>
      {test.detail && <ErrorDetails detail={test.detail} />}
      {test.checks.length > 0 && (
        <ul className="checks">
          {test.checks.map((check) => (
            <li key={check.name}>
              <span aria-hidden="true">{check.ok ? "✓" : "✗"}</span>
              <span className="visually-hidden">{check.ok ? "Passed:" : "Failed:"}</span> {check.name}
              {check.message && <span className="muted"> — {check.message}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The server's words for credentials its key cannot decrypt (services/connections.ts). */
function credentialsUnreadableMessage(c: ConnectionView): string {
  return (
    `Stored credentials of connection "${c.name}" cannot be decrypted with this key: re-enter them or restore ` +
    "the key (CSPSYNC_SECRET_KEY / data/secret.key)."
  );
}

/** Whether the last sync, more recent than the last test, failed: then the PSA's health is that failure. */
function lastSyncFailed(c: ConnectionView): boolean {
  if (!c.lastSync || !["error", "abandoned"].includes(c.lastSync.status)) return false;
  return !c.lastTest || c.lastSync.at >= c.lastTest.at;
}

function connectionStatus(c: ConnectionView) {
  if (!c.credentialsReadable) return <Badge tone="bad">Credentials unreadable</Badge>;
  if (lastSyncFailed(c)) return <Badge tone="bad">Last sync failed</Badge>;
  if (!c.lastTest) return <Badge tone="neutral">Not tested</Badge>;
  return c.lastTest.ok ? <Badge tone="ok">Connected</Badge> : <Badge tone="bad">Connection failed</Badge>;
}

function ConnectionCard({ connection, onEdit }: { connection: ConnectionView; onEdit: () => void }) {
  const { isAdmin } = useSession();
  const [test, setTest] = useState<ConnectionTest | null>(null);
  // The test's outcome is stored as the connection's last test.
  const runTest = useAction(
    async () => {
      const result = await api.post<ConnectionTest>(`/api/connections/${connection.id}/test`);
      setTest(result);
    },
    { invalidates: ["/api/connections", "/api/dashboard"] },
  );
  const c = connection;
  return (
    <article className={`card vendor-${c.vendor}`} aria-labelledby={`conn-${c.id}`}>
      <header className="card-header">
        <h3 id={`conn-${c.id}`}>{c.name}</h3>
        {connectionStatus(c)}
      </header>
      <dl className="facts">
        <dt>PSA</dt>
        <dd>{VENDOR_LABELS[c.vendor]}</dd>
        <dt>{c.vendor === "connectwise" ? "Site" : "API user"}</dt>
        <dd className="break">
          {String((c.vendor === "connectwise" ? c.config.site : c.config.username) ?? "—")}
        </dd>
        <dt>Seat-based Annual sync</dt>
        <dd>{c.seatAnnualEnabled ? "On" : "Off"}</dd>
        <dt>Last test</dt>
        <dd>
          {c.lastTest ? (
            <>
              {formatInstant(c.lastTest.at)}
              {!c.lastTest.ok && <span className="block muted break">{c.lastTest.message}</span>}
            </>
          ) : (
            "Never"
          )}
        </dd>
        <dt>Last sync</dt>
        <dd>
          {c.lastSync ? (
            <>
              <Link to={`/runs/${c.lastSync.runId}`}>{formatInstant(c.lastSync.at)}</Link>{" "}
              <RunStatusBadge status={c.lastSync.status} />
              {lastSyncFailed(c) && c.lastSync.message && (
                <span className="block muted break">{c.lastSync.message}</span>
              )}
            </>
          ) : (
            "Never"
          )}
        </dd>
      </dl>
      {!c.credentialsReadable && (
        <div className="alert alert-error" role="alert">
          <p>
            {credentialsUnreadableMessage(c)}
            {isAdmin && " Use Edit to enter them again."}
          </p>
        </div>
      )}
      {test && <TestResult test={test} />}
      {runTest.error && <ErrorMessage error={runTest.error} />}
      <div className="card-actions">
        <Link
          to={`/psa/${c.id}/csp`}
          className="button secondary small"
          aria-label={`Microsoft CSP — ${c.name}`}
        >
          Microsoft CSP
        </Link>
        <Link
          to={`/psa/${c.id}/settings`}
          className="button secondary small"
          aria-label={`Settings — ${c.name}`}
        >
          Settings
        </Link>
        {isAdmin && (
          <>
            <button
              type="button"
              className="button secondary small"
              aria-label={`Edit ${c.name}`}
              onClick={onEdit}
            >
              Edit
            </button>
            <button
              type="button"
              className="button secondary small"
              aria-label={`Test ${c.name}`}
              onClick={() => void runTest.run()}
              disabled={runTest.busy}
            >
              {runTest.busy ? "Testing…" : "Test"}
            </button>
          </>
        )}
      </div>
    </article>
  );
}

export function ConnectionsPage() {
  useDocumentTitle("Connections");
  const { isAdmin } = useSession();
  const { connections, error, refetch } = useConnections();
  const [form, setForm] = useState<{ vendor: Vendor; existing: ConnectionView | null } | null>(null);

  return (
    <>
      <PageHeader title="Connections" />
      <p className="lead">
        One card per PSA. Credentials are stored encrypted and are never shown again; you can replace them.
      </p>
      {error && <ErrorMessage error={error} retry={refetch} />}
      {!connections && !error && <Loading label="Loading connections…" />}
      {connections && (
        <div className="cards">
          {(["connectwise", "autotask"] as const).map((vendor) => {
            const mine = connections.filter((c) => c.vendor === vendor);
            if (mine.length > 0)
              return mine.map((c) => (
                <ConnectionCard key={c.id} connection={c} onEdit={() => setForm({ vendor, existing: c })} />
              ));
            return (
              <article key={vendor} className={`card vendor-${vendor}`} aria-labelledby={`vendor-${vendor}`}>
                <header className="card-header">
                  <h3 id={`vendor-${vendor}`}>{VENDOR_LABELS[vendor]}</h3>
                  <Badge tone="neutral">Not connected</Badge>
                </header>
                <p className="muted">{VENDOR_BLURB[vendor]}</p>
                <div className="card-actions">
                  {isAdmin ? (
                    <button
                      type="button"
                      className="button primary small"
                      aria-label={`Connect ${VENDOR_LABELS[vendor]}`}
                      onClick={() => setForm({ vendor, existing: null })}
                    >
                      Connect now
                    </button>
                  ) : (
                    <span className="muted">An admin can connect it.</span>
                  )}
                </div>
              </article>
            );
          })}
        </div>
      )}
      {connections && connections.length === 0 && !isAdmin && <EmptyState title="No PSA is connected yet." />}
      {form && <ConnectionForm vendor={form.vendor} existing={form.existing} onClose={() => setForm(null)} />}
    </>
  );
}
