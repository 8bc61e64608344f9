import { useRef, useState, type DragEvent, type FormEvent } from "react";
import {
  ApiError,
  MOTION_LABELS,
  MOTIONS,
  uploadFiles,
  type ImportDelimiter,
  type ImportHint,
  type ImportRecord,
  type ImportSummary,
  type UploadProgress,
} from "../api.ts";
import { Badge, EmptyState, ErrorMessage, Loading, PageHeader } from "../components.tsx";
import { formatBytes, formatInstant, formatNumber } from "../format.ts";
import { useApiQuery, useDocumentTitle, useInvalidate, useSession } from "../hooks.ts";

const STATUS: Record<ImportSummary["status"], ["ok" | "bad" | "neutral", string]> = {
  imported: ["ok", "Imported"],
  rejected: ["bad", "Rejected"],
  empty: ["neutral", "Empty"],
};

const DELIMITERS: [ImportDelimiter, string][] = [
  ["auto", "Automatic (comma, as Partner Center writes it)"],
  ["comma", "Comma ( , )"],
  ["semicolon", "Semicolon ( ; )"],
  ["tab", "Tab"],
  ["pipe", "Pipe ( | )"],
];

/** The separator a hint names, as the Delimiter choice calls it. */
const DELIMITER_OF: Record<string, Exclude<ImportDelimiter, "auto">> = {
  ",": "comma",
  ";": "semicolon",
  "\t": "tab",
  "|": "pipe",
};

/** Where and why, as a sentence: "bad.csv was not imported. Row 3, column EffectiveUnitPrice: …". */
function problemSentence(summary: ImportSummary): string {
  const problem = summary.problem!;
  const place = [
    problem.row !== undefined ? `Row ${formatNumber(problem.row)}` : null,
    problem.column ? `column ${problem.column}` : null,
  ]
    .filter(Boolean)
    .join(", ");
  const reason = /[.!?]$/.test(problem.reason) ? problem.reason : `${problem.reason}.`;
  const opening =
    summary.status === "rejected"
      ? `${summary.file} was not imported.`
      : `Nothing was imported from ${summary.file}.`;
  return place
    ? `${opening} ${place}: ${reason}`
    : `${opening} ${reason[0]!.toUpperCase()}${reason.slice(1)}`;
}

function FileResult({
  summary,
  retry,
  busy,
}: {
  summary: ImportSummary;
  /** Uploads this file again read with the given separator; absent when the file is no longer at hand. */
  retry?: (delimiter: ImportDelimiter) => void;
  busy: boolean;
}) {
  const [tone, label] = STATUS[summary.status] ?? ["neutral", summary.status];
  const problem = summary.problem;
  const hint: ImportHint | undefined = problem?.hint;
  const separator = hint?.kind === "delimiter" ? DELIMITER_OF[hint.detected] : undefined;
  return (
    <article className="card file-result" aria-label={`Result for ${summary.file}`}>
      <header className="card-header">
        <h3 className="break">{summary.file}</h3>
        <Badge tone={tone}>{label}</Badge>
      </header>
      {summary.status === "imported" && (
        <>
          <p>
            {formatNumber(summary.lines)} lines: <strong>{formatNumber(summary.newLines)} new</strong>,{" "}
            {formatNumber(summary.knownLines)} already known · {formatNumber(summary.customers)} customers ·{" "}
            {summary.invoices.length === 1 ? "invoice" : "invoices"} {summary.invoices.join(", ") || "—"}
          </p>
          <ul className="counts" aria-label="Lines per billing motion">
            {MOTIONS.map((m) => (
              <li key={m}>
                <strong>{formatNumber(summary.linesByMotion?.[m] ?? 0)}</strong> {MOTION_LABELS[m]}
              </li>
            ))}
          </ul>
        </>
      )}
      {problem && (
        <div
          className={summary.status === "rejected" ? "alert alert-error" : "alert alert-info"}
          role={summary.status === "rejected" ? "alert" : undefined}
        >
          <p>{problemSentence(summary)}</p>
          {summary.status === "rejected" &&
            (separator ? (
              <>
                <p className="small">
                  Nothing of this file was stored. To read it, import it again with {separator} as the
                  delimiter{retry ? ", or choose" : ": choose"} {capitalize(separator)} under Delimiter above
                  and upload it again.
                </p>
                {retry && (
                  <button
                    type="button"
                    className="button primary small"
                    disabled={busy}
                    onClick={() => retry(separator)}
                  >
                    Import again with {separator}
                  </button>
                )}
              </>
            ) : (
              <p className="small">Nothing of this file was stored. Fix it and upload it again.</p>
            ))}
        </div>
      )}
    </article>
  );
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function ImportPage() {
  useDocumentTitle("Import");
  const { isAdmin } = useSession();
  const history = useApiQuery<{ imports: ImportRecord[] }>("/api/imports");
  const invalidate = useInvalidate();
  const input = useRef<HTMLInputElement>(null);
  const [files, setFiles] = useState<File[]>([]);
  const [delimiter, setDelimiter] = useState<ImportDelimiter>("auto");
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [busy, setBusy] = useState(false);
  /** Each result with the file it came from (the server answers one result per file, in order). */
  const [results, setResults] = useState<{ summary: ImportSummary; file: File | undefined }[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [dragging, setDragging] = useState(false);

  /** Uploads `chosen`; `replacing` is the index of the result a retry of one file takes the place of. */
  const send = async (chosen: File[], separator: ImportDelimiter, replacing?: number) => {
    setBusy(true);
    setError(null);
    if (replacing === undefined) setResults(null);
    setProgress({ loaded: 0, total: chosen.reduce((sum, f) => sum + f.size, 0) });
    try {
      const reply = await uploadFiles(chosen, setProgress, { delimiter: separator });
      const answered = reply.files.map((summary, index) => ({ summary, file: chosen[index] }));
      setResults((current) =>
        replacing === undefined || !current
          ? answered
          : current.map((entry, index) => (index === replacing ? (answered[0] ?? entry) : entry)),
      );
      if (replacing === undefined) {
        setFiles([]);
        if (input.current) input.current.value = "";
      }
      // New billing data changes the history, invoices, the dashboard and every connection's customers.
      invalidate(
        "/api/imports",
        "/api/invoices",
        "/api/dashboard",
        "/api/connections",
        "/api/billing-products",
      );
    } catch (caught) {
      setError(caught instanceof ApiError ? caught : new ApiError(0, "internal", String(caught)));
    } finally {
      setBusy(false);
      setProgress(null);
    }
  };

  const upload = async (event: FormEvent) => {
    event.preventDefault();
    if (files.length === 0) return;
    await send(files, delimiter);
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    if (busy) return;
    setFiles([...event.dataTransfer.files]);
  };

  const percent = progress && progress.total > 0 ? Math.round((progress.loaded / progress.total) * 100) : 0;
  const imports = history.data?.imports;

  return (
    <>
      <PageHeader title="Import billing data" />
      <p className="lead">
        Upload Microsoft reconciliation files: the Partner Center CSV or the gzipped JSON Lines of the billing
        export. Each file is stored whole or not at all, and importing the same data again adds nothing.
      </p>
      {isAdmin ? (
        <form className="panel form" onSubmit={upload}>
          <div
            className={dragging ? "dropzone dragging" : "dropzone"}
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={drop}
          >
            <label htmlFor="import-files">Reconciliation files</label>
            <input
              id="import-files"
              ref={input}
              type="file"
              multiple
              accept=".csv,.tsv,.txt,.json,.jsonl,.gz,text/csv,application/gzip"
              disabled={busy}
              aria-describedby="import-files-hint"
              onChange={(e) => setFiles([...(e.target.files ?? [])])}
            />
            <p className="hint" id="import-files-hint">
              Choose one or more files, or drop them here.
            </p>
          </div>
          <div className="field">
            <label htmlFor="import-delimiter">Delimiter</label>
            <select
              id="import-delimiter"
              value={delimiter}
              disabled={busy}
              aria-describedby="import-delimiter-hint"
              onChange={(e) => setDelimiter(e.target.value as ImportDelimiter)}
            >
              {DELIMITERS.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
            <p className="hint" id="import-delimiter-hint">
              How the fields of a CSV file are separated. Automatic reads commas and, when a file uses another
              separator, says which one and offers to import it again with it.
            </p>
          </div>
          {files.length > 0 && (
            <ul className="file-list" aria-label="Chosen files">
              {files.map((f) => (
                <li key={`${f.name}-${f.size}`}>
                  {f.name} <span className="muted">({formatBytes(f.size)})</span>
                </li>
              ))}
            </ul>
          )}
          {progress && (
            <div className="progress" role="status">
              <label htmlFor="upload-progress">
                {progress.loaded < progress.total
                  ? `Uploading… ${percent} % of ${formatBytes(progress.total)}`
                  : "Uploaded; importing on the server…"}
              </label>
              <progress id="upload-progress" max={100} value={percent} />
            </div>
          )}
          {error && <ErrorMessage error={error} />}
          <div className="form-actions">
            <button type="submit" className="button primary" disabled={busy || files.length === 0}>
              {busy ? "Importing…" : files.length > 1 ? `Upload ${files.length} files` : "Upload"}
            </button>
          </div>
        </form>
      ) : (
        <p className="muted">Only admins can import files.</p>
      )}
      {results && (
        <section aria-labelledby="results-title">
          <h2 id="results-title">Results</h2>
          <div className="cards">
            {results.map(({ summary, file }, index) => (
              <FileResult
                key={`${summary.importId}-${index}`}
                summary={summary}
                busy={busy}
                retry={file ? (separator) => void send([file], separator, index) : undefined}
              />
            ))}
          </div>
        </section>
      )}
      <section aria-labelledby="history-title">
        <h2 id="history-title">Earlier imports</h2>
        {history.error && <ErrorMessage error={history.error} retry={history.refetch} />}
        {!imports && history.loading && <Loading label="Loading imports…" />}
        {imports && imports.length === 0 && <EmptyState title="Nothing has been imported yet." />}
        {imports && imports.length > 0 && (
          <table className="table responsive">
            <caption className="visually-hidden">Earlier imports, newest first</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Started</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Lines
                </th>
                <th scope="col" className="num">
                  New
                </th>
                <th scope="col" className="num">
                  Known
                </th>
              </tr>
            </thead>
            <tbody>
              {imports.map((i) => (
                <tr key={i.id}>
                  <th scope="row" data-label="File" className="break">
                    {i.fileName}
                    {i.error && <span className="block small text-bad">{i.error}</span>}
                  </th>
                  <td data-label="Started">{formatInstant(i.startedAt)}</td>
                  <td data-label="Status">
                    <Badge tone={STATUS[i.status as ImportSummary["status"]]?.[0] ?? "neutral"}>
                      {STATUS[i.status as ImportSummary["status"]]?.[1] ?? i.status}
                    </Badge>
                  </td>
                  <td data-label="Lines" className="num">
                    {formatNumber(i.lines)}
                  </td>
                  <td data-label="New" className="num">
                    {formatNumber(i.newLines)}
                  </td>
                  <td data-label="Known" className="num">
                    {formatNumber(i.knownLines)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
