/** A reason a whole file is refused, pointing at the exact place: file, row, column. */
export class ReconFileError extends Error {
  readonly file: string;
  readonly row: number | undefined;
  readonly column: string | undefined;
  readonly reason: string;

  constructor(file: string, reason: string, where: { row?: number; column?: string } = {}) {
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
  }
}
