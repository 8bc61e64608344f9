/** Plain-text tables and number formatting for people; `--json` output bypasses all of this. */
export type Column<T> = { header: string; value: (row: T) => string; align?: "left" | "right" };

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    line(widths.map((w) => "-".repeat(w))),
    ...cells.map(line),
  ].join("\n");
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A progress bar on stderr, only when stderr is a terminal (never in pipes, logs or --json runs). */
export function progressBar(label: string): {
  update(done: number, total: number, note?: string): void;
  finish(): void;
} {
  if (!process.stderr.isTTY) return { update() {}, finish() {} };
  let last = 0;
  return {
    update(done, total, note = "") {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const ratio = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const filled = Math.round(ratio * width);
      process.stderr.write(
        `\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${note}`,
      );
    },
    finish() {
      process.stderr.write("\r\x1b[2K");
    },
  };
}
