/**
 * A cell as it is exported: text that a spreadsheet would read as a formula (it starts with =, +, -, @, or a
 * tab / carriage return) gets a leading apostrophe (docs/reports.md §5). Numbers are exported as text too, so
 * a negative amount "-12.50" becomes "'-12.50" in CSV; XLSX writes real numbers instead.
 */
export function safeCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text = String(value);
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}
