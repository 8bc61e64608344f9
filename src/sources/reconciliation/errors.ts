/**
 * What the user can do about a refused file, as data: each surface (CLI, API, web app) words the action its
 * own way — the CLI names its `--delimiter` option, the web app offers to import the file again with the
 * separator it found.
 */
export type ReconFileHint = {
  kind: "delimiter";
  /** The separator the header line uses. */
  detected: ReconDelimiter;
  /** The separator the file was read with. */
  expected: string;
};

/** The separators a reconciliation CSV may use; the reader takes any of them as `delimiter`. */
export const RECON_DELIMITERS = [",", ";", "\t", "|"] as const;
export type ReconDelimiter = (typeof RECON_DELIMITERS)[number];

/** A separator as people name it: "semicolon", "tab". */
export const DELIMITER_NAMES: Record<ReconDelimiter, string> = {
  ",": "comma",
  ";": "semicolon",
  "\t": "tab",
  "|": "pipe",
};

/** A reason a whole file is refused, pointing at the exact place: file, row, column. */
export class ReconFileError extends Error {
  readonly file: string;
  readonly row: number | undefined;
  readonly column: string | undefined;
  readonly reason: string;
  readonly hint: ReconFileHint | undefined;

  constructor(
    file: string,
    reason: string,
    where: { row?: number; column?: string; hint?: ReconFileHint } = {},
  ) {
    const place = [
      file,
      where.row !== undefined ? `row ${where.row}` : null,
      where.column ? `column ${where.column}` : null,
    ]
      .filter(Boolean)
      .join(", ");
    super(`${place}: ${reason}`);
    this.name = "ReconFileError";
    this.file = file;
    this.row = where.row;
    this.column = where.column;
    this.reason = reason;
    this.hint = where.hint;
  }
}
