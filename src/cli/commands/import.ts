import { parseArgs } from "node:util";
import { importReconFile, type ImportSummary } from "../../services/import-recon.ts";
import { notifyImportsRejected } from "../../services/notifications.ts";
import { MOTION_LABELS, BILLING_MOTIONS } from "../../core/billing.ts";
import { DELIMITER_NAMES, type ReconFileHint } from "../../sources/reconciliation/errors.ts";
import { withApp } from "./connections.ts";
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
  let queuedChecks = 0;
  const summaries: ImportSummary[] = await withApp(values.db, async (app) => {
    const store = app.store;
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
    await notifyImportsRejected(app, results);
    if (
      results.some((r) => r.status === "imported" && r.newLines > 0 && r.linesByMotion["seat-annual"] > 0)
    ) {
      // Loaded only when there is something to queue: the job queue is not needed for a plain import.
      const { enqueueChecksAfterImport, openJobQueue } = await import("../../jobs/sync-worker.ts");
      const queue = openJobQueue(app);
      try {
        queuedChecks = await enqueueChecksAfterImport(app, queue, results);
      } finally {
        await queue.stop();
      }
    }
    return results;
  });
  if (values.json) printJson({ files: summaries, queuedChecks });
  else {
    for (const summary of summaries) process.stdout.write(describeImport(summary));
    if (queuedChecks > 0)
      console.log(`New annual charges: queued a Seat-based Annual check for ${queuedChecks} connection(s).`);
  }
  return summaries.some((s) => s.status === "rejected") ? 1 : 0;
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
