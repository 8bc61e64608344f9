import { useEffect, useState } from "react";
import type { components } from "../api-types.ts";
import { api } from "../api.ts";
import { EmptyState, ErrorMessage, Loading, Notice, PageHeader } from "../components.tsx";
import { formatInstant } from "../format.ts";
import { useAction, useApiQuery, useDocumentTitle, useSession } from "../hooks.ts";

/**
 * Billing data that arrives by itself (docs/partner-center.md): the Microsoft Partner Center sources, each
 * with "Fetch now" (admins), its fetch history and the provisional "next invoice so far".
 */
type Source = components["schemas"]["Source"];
type FetchRun = components["schemas"]["FetchRun"];
type UnbilledPreview = components["schemas"]["UnbilledPreview"];
type FetchQueued = { fetchRunId: string | null; jobId: string | null; status: "queued"; message: string };
type SourceTest = components["schemas"]["SourceTest"];

/** What a queued fetch says while no worker has taken it (it is given up after an hour, with its reason). */
function waitingText(run: FetchRun, now: number): string {
  const minutes = Math.floor((now - Date.parse(run.startedAt)) / 60_000);
  return minutes < 1
    ? "Waiting for a worker (cspsync serve or cspsync worker) to take it"
    : `Waiting for a worker: no worker has taken it for ${minutes} minute${minutes === 1 ? "" : "s"} (is cspsync serve or cspsync worker running?)`;
}

const STATUS_LABELS: Record<FetchRun["status"], string> = {
  queued: "Queued",
  running: "Running",
  imported: "Imported",
  "nothing-new": "Nothing new",
  failed: "Failed",
};

export function SourcesPage() {
  useDocumentTitle("Billing sources");
  const { isAdmin } = useSession();
  const sources = useApiQuery<{ sources: Source[] }>("/api/sources");
  return (
    <>
      <PageHeader title="Billing sources" />
      <p>
        Microsoft Partner Center sources are checked every day before the syncs: new invoices are exported
        from Microsoft Graph, imported whole (only when their lines add up to the invoice total) and synced.
        Add one below or with <code>cspsync source add partner-center</code>.
      </p>
      {isAdmin && <AddSource />}
      {sources.error && <ErrorMessage error={sources.error} retry={sources.refetch} />}
      {sources.loading && !sources.data && <Loading label="Loading sources" />}
      {sources.data && sources.data.sources.length === 0 && (
        <EmptyState title="No billing source yet">
          Billing data comes from uploaded files until a Microsoft Partner Center source is added.
        </EmptyState>
      )}
      {sources.data?.sources.map((source) => (
        <SourceCard key={source.id} source={source} />
      ))}
    </>
  );
}

function SourceCard({ source }: { source: Source }) {
  const { isAdmin } = useSession();
  const runsPath = `/api/sources/${source.id}/fetch-runs`;
  const unbilledPath = `/api/sources/${source.id}/unbilled`;
  const runs = useApiQuery<{ runs: FetchRun[] }>(runsPath);
  const unbilled = useApiQuery<{ previews: UnbilledPreview[] }>(unbilledPath);
  const [result, setResult] = useState<FetchQueued | null>(null);
  const [test, setTest] = useState<SourceTest | null>(null);
  const testNow = useAction(() => api.post<SourceTest>(`/api/sources/${source.id}/test`), {
    invalidates: ["/api/sources"],
  });
  const onTest = async () => {
    setTest(null);
    const outcome = await testNow.run();
    if (outcome) setTest(outcome);
  };
  // "Fetch now" queues the fetch for a worker: the history is read again until nothing is queued or running.
  const fetchNow = useAction(
    () => api.post<FetchQueued>(`/api/sources/${source.id}/fetch`, { unbilled: true }),
    { invalidates: [runsPath] },
  );
  const onFetch = async () => {
    setResult(null);
    const outcome = await fetchNow.run();
    if (outcome) setResult(outcome);
  };
  const active = runs.data?.runs.some((r) => r.status === "queued" || r.status === "running") ?? false;
  const { refetch: refetchRuns } = runs;
  const { refetch: refetchUnbilled } = unbilled;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(refetchRuns, 1000);
    return () => {
      clearInterval(timer);
      refetchUnbilled();
    };
  }, [active, refetchRuns, refetchUnbilled]);
  const followed = result?.fetchRunId ? runs.data?.runs.find((r) => r.id === result.fetchRunId) : undefined;
  return (
    <section className="panel" aria-labelledby={`source-${source.id}`}>
      <div className="section-header">
        <h2 id={`source-${source.id}`}>{source.name}</h2>
        {isAdmin && (
          <div>
            <button type="button" className="button" onClick={onTest} disabled={testNow.busy}>
              {testNow.busy ? "Testing…" : "Test connection"}
            </button>{" "}
            <button type="button" className="button primary" onClick={onFetch} disabled={fetchNow.busy}>
              {fetchNow.busy ? "Fetching…" : "Fetch now"}
            </button>
          </div>
        )}
      </div>
      <p>
        Microsoft Partner Center — tenant <code>{source.config.tenantId}</code>, app{" "}
        <code>{source.config.clientId}</code> ({source.config.credential}). Last test:{" "}
        {source.lastTest
          ? `${source.lastTest.ok ? "OK" : `failed — ${source.lastTest.message}`} (${formatInstant(source.lastTest.at)})`
          : "never"}
      </p>
      {testNow.error && <ErrorMessage error={testNow.error} />}
      {test && (
        <Notice kind={test.ok ? "success" : "warning"}>
          {test.ok
            ? `Connection works: ${test.message}`
            : `Test failed (${test.kind ?? "error"}): ${test.message}`}
        </Notice>
      )}
      {fetchNow.error && <ErrorMessage error={fetchNow.error} />}
      {result && (!followed || followed.status === "queued" || followed.status === "running") && (
        <Notice kind="info">
          {followed?.status === "running"
            ? "Fetching from Microsoft…"
            : followed
              ? `${result.message}. ${waitingText(followed, Date.now())}`
              : result.message}
        </Notice>
      )}
      {followed && followed.status !== "queued" && followed.status !== "running" && (
        <Notice kind={followed.status === "failed" ? "warning" : "success"}>
          {followed.message}
          {followed.syncJobs.length > 0 ? ` → ${followed.syncJobs.length} sync(s) queued` : ""}
        </Notice>
      )}
      {isAdmin && <EditCredentials source={source} />}
      <h3>Fetch history</h3>
      {runs.error && <ErrorMessage error={runs.error} retry={runs.refetch} />}
      {runs.data && runs.data.runs.length === 0 && <p>No fetch yet.</p>}
      {runs.data && runs.data.runs.length > 0 && (
        <table className="table" aria-label={`Fetch history of ${source.name}`}>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Trigger</th>
              <th scope="col">Status</th>
              <th scope="col">What happened</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.runs.map((run) => (
              <tr key={run.id}>
                <td>{formatInstant(run.startedAt)}</td>
                <td>{run.trigger}</td>
                <td>{STATUS_LABELS[run.status]}</td>
                <td>
                  {run.status === "queued" ? waitingText(run, Date.now()) : run.message}
                  {run.syncJobs.length > 0 ? ` → ${run.syncJobs.length} sync(s) queued` : ""}
                  {run.errorKind ? ` (${run.errorKind})` : ""}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h3>Next invoice so far (provisional, never synced)</h3>
      {unbilled.data && unbilled.data.previews.length === 0 && <p>No unbilled data fetched yet.</p>}
      {unbilled.data?.previews.map((preview) => (
        <table key={preview.currency} className="table" aria-label={`Unbilled ${preview.currency}`}>
          <caption>
            {preview.currency} {preview.total} so far, fetched {formatInstant(preview.fetchedAt)}
          </caption>
          <thead>
            <tr>
              <th scope="col">Customer</th>
              <th scope="col">Motion</th>
              <th scope="col">So far</th>
              <th scope="col">Since the fetch before</th>
            </tr>
          </thead>
          <tbody>
            {preview.entries.map((entry) => (
              <tr key={`${entry.customerTenantId}|${entry.motion}`}>
                <td>{entry.customerName}</td>
                <td>{entry.motion}</td>
                <td className="mono">{entry.total}</td>
                <td className="mono">{entry.change}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ))}
    </section>
  );
}

/** Rotate the client secret (or give a new certificate key) without adding the source again. */
function EditCredentials({ source }: { source: Source }) {
  const [secret, setSecret] = useState("");
  const [done, setDone] = useState(false);
  const save = useAction(
    () =>
      api.patch<Source>(`/api/sources/${source.id}`, {
        config: { credential: "secret" },
        secrets: { clientSecret: secret },
      }),
    { invalidates: ["/api/sources"] },
  );
  const onSubmit = async (event: React.FormEvent) => {
    event.preventDefault();
    setDone(false);
    if (await save.run()) {
      setSecret("");
      setDone(true);
    }
  };
  return (
    <form
      className="inline-form"
      onSubmit={onSubmit}
      aria-label={`Rotate the client secret of ${source.name}`}
    >
      <label>
        New client secret{" "}
        <input
          type="password"
          autoComplete="off"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
          required
        />
      </label>{" "}
      <button type="submit" className="button" disabled={save.busy || secret === ""}>
        Rotate secret
      </button>
      {save.error && <ErrorMessage error={save.error} />}
      {done && <Notice kind="success">Secret replaced; test the source again.</Notice>}
    </form>
  );
}

/** Add a Microsoft Partner Center source (admins): the app registration's ids and its client secret. */
function AddSource() {
  const empty = { name: "", tenantId: "", clientId: "", clientSecret: "", endpoints: "" };
  const [form, setForm] = useState(empty);
  const [added, setAdded] = useState<string | null>(null);
  const set = (key: keyof typeof empty) => (e: React.ChangeEvent<HTMLInputElement>) =>
    setForm({ ...form, [key]: e.target.value });
  const add = useAction(
    () => {
      const base = form.endpoints.trim().replace(/\/$/, "");
      return api.post<Source>("/api/sources", {
        name: form.name,
        config: {
          tenantId: form.tenantId.trim(),
          clientId: form.clientId.trim(),
          ...(base
            ? { endpoints: { login: base, partnerCenter: `${base}/partnercenter`, graph: `${base}/graph` } }
            : {}),
        },
        secrets: { clientSecret: form.clientSecret },
      });
    },
    { invalidates: ["/api/sources"] },
  );
  const onSubmit = async (event: React.FormEvent) => {
    event.preventDefault();
    setAdded(null);
    const source = await add.run();
    if (source) {
      setForm(empty);
      setAdded(source.name);
    }
  };
  return (
    <form className="panel" onSubmit={onSubmit} aria-label="Add a Partner Center source">
      <h2>Add a Microsoft Partner Center source</h2>
      <label>
        Name <input value={form.name} onChange={set("name")} required />
      </label>{" "}
      <label>
        Partner tenant id <input value={form.tenantId} onChange={set("tenantId")} required />
      </label>{" "}
      <label>
        App (client) id <input value={form.clientId} onChange={set("clientId")} required />
      </label>{" "}
      <label>
        Client secret{" "}
        <input
          type="password"
          autoComplete="off"
          value={form.clientSecret}
          onChange={set("clientSecret")}
          required
        />
      </label>{" "}
      <label>
        Emulator base URL (optional; its host must be in CSPSYNC_MICROSOFT_ALLOWED_HOSTS){" "}
        <input value={form.endpoints} onChange={set("endpoints")} />
      </label>{" "}
      <button type="submit" className="button primary" disabled={add.busy}>
        Add source
      </button>
      {add.error && <ErrorMessage error={add.error} />}
      {added && <Notice kind="success">Added {added}; test it, then Fetch now.</Notice>}
    </form>
  );
}
