import { parseArgs } from "node:util";
import { importReconFile, type ImportSummary } from "../../services/import-recon.ts";
import { MOTION_LABELS, BILLING_MOTIONS } from "../../core/billing.ts";
import { DELIMITER_NAMES, type ReconFileHint } from "../../sources/reconciliation/errors.ts";
import { withStore } from "../context.ts";
import { printJson, progressBar, UsageError } from "../output.ts";

export const importHelp = `cspsync import FILE... [--json] [--delimiter CHAR|comma|semicolon|tab|pipe] [--db URL]

Imports NCE invoice reconciliation files (CSV as downloaded from Partner Center or a distributor, or the
gzipped JSON Lines of the Graph export). Each file is stored whole or not at all; files already imported
add nothing. Exits with 1 when any file was rejected.`;

export async function importCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean" }, delimiter: { type: "string" }, db: { type: "string" } },
  });
  if (positionals.length === 0) throw new UsageError("import needs at least one FILE");
  const delimiter = delimiterOption(values.delimiter);
  // The files are imported with the store alone: the app (PSA clients, sync services, notifications, job
  // queue) is loaded afterwards and only when there is something to tell or queue. Its modules cost the
  // process ~16 MB (importing the sample again peaks at 123 MB without them, 139 MB with them), which a
  // re-import of a million lines, near its 300 MB goal, does not have to spare (BENCHMARKS.md).
  const summaries: ImportSummary[] = await withStore(values.db, async (store) => {
    const results: ImportSummary[] = [];
    for (const file of positionals) {
      const bar = values.json ? progressBar("") : progressBar(file);
      try {
        results.push(
          await importReconFile(store, file, {
            delimiter,
            onProgress: (p) =>
              bar.update(p.bytesRead, p.sizeBytes, `${p.rows.toLocaleString("en-US")} lines`),
          }),
        );
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new UsageError(`${file}: no such file`);
        throw error;
      } finally {
        bar.finish();
      }
    }
    return results;
  });
  // The files are stored whatever happens next: what they stored is printed before a failure of what
  // follows (an unreadable secret key, the job queue) is reported.
  let queuedChecks = 0;
  let followUpError: unknown = null;
  try {
    queuedChecks = await afterImports(values.db, summaries);
  } catch (error) {
    followUpError = error;
  }
  if (values.json) printJson({ files: summaries, queuedChecks });
  else {
    for (const summary of summaries) process.stdout.write(describeImport(summary));
    if (queuedChecks > 0)
      console.log(`New annual charges: queued a Seat-based Annual check for ${queuedChecks} connection(s).`);
  }
  if (followUpError) throw followUpError;
  return summaries.some((s) => s.status === "rejected") ? 1 : 0;
}

/**
 * What follows the imports: the notification of rejected files, and a Seat-based Annual check queued for
 * the connections whose mapped customers got new annual charges. Returns how many checks were queued.
 */
async function afterImports(db: string | undefined, summaries: readonly ImportSummary[]): Promise<number> {
  const rejected = summaries.some((s) => s.status === "rejected");
  const newAnnual = summaries.some(
    (s) => s.status === "imported" && s.newLines > 0 && s.linesByMotion["seat-annual"] > 0,
  );
  if (!rejected && !newAnnual) return 0;
  const [{ withApp }, { notifyImportsRejected }] = await Promise.all([
    import("./connections.ts"),
    import("../../services/notifications.ts"),
  ]);
  return withApp(db, async (app) => {
    await notifyImportsRejected(app, summaries);
    if (!newAnnual) return 0;
    const { enqueueChecksAfterImport, openJobQueue } = await import("../../jobs/sync-worker.ts");
    const queue = openJobQueue(app);
    try {
      return await enqueueChecksAfterImport(app, queue, summaries);
    } finally {
      await queue.stop();
    }
  });
}

/** --delimiter takes the character itself or its name (tab is hard to type in a shell). */
function delimiterOption(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === "\\t") return "\t";
  const named = Object.entries(DELIMITER_NAMES).find(([, name]) => name === value.toLowerCase());
  return named ? named[0] : value;
}

/** The CLI's wording of a rejection's hint: the option that reads the file. */
function cliAction(hint: ReconFileHint | undefined): string {
  if (hint?.kind !== "delimiter") return "";
  const value = hint.detected === "\t" ? "tab" : `'${hint.detected}'`;
  return `  read it with --delimiter ${value}\n`;
}

export function describeImport(s: ImportSummary): string {
  if (s.status === "rejected")
    return `${s.file}: REJECTED, nothing stored\n  ${s.problem?.message}\n${cliAction(s.problem?.hint)}`;
  if (s.status === "empty") return `${s.file}: nothing to import (${s.problem?.reason})\n`;
  const motions = BILLING_MOTIONS.map((m) => `${MOTION_LABELS[m]} ${s.linesByMotion[m]}`).join(", ");
  return [
    `${s.file}: imported (${s.format})`,
    `  invoices   ${s.invoices.join(", ")}`,
    `  lines      ${s.lines} (${s.newLines} new, ${s.knownLines} already known)`,
    `  customers  ${s.customers}`,
    `  motions    ${motions}`,
    `  not billable ${s.notBillable} (zero-value trials)`,
    `  rejected rows 0`,
    "",
  ].join("\n");
}
