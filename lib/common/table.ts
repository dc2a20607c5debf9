/**
 * Plain-text tables for the admin programs (turku-api, turku-storage-admin): one header line,
 * columns padded to their widest cell.
 */

export type Cell = string | number | boolean | null | readonly string[];

export function renderCell(value: Cell): string {
  if (value === null) return '-';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  const text = Array.isArray(value) ? (value.length === 0 ? '-' : value.join(',')) : String(value);
  // Control characters would break the layout (and a terminal): show them escaped.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function renderTable(rows: readonly object[], columns?: readonly string[]): string[] {
  const keys = columns ?? (rows[0] === undefined ? [] : Object.keys(rows[0]));
  if (rows.length === 0) return ['(none)'];
  const cells = rows.map((row) =>
    keys.map((key) => renderCell((row as Record<string, Cell | undefined>)[key] ?? null)),
  );
  const headers = keys.map((key) => key.toUpperCase());
  const widths = keys.map((_, i) => Math.max(headers[i]!.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)];
}
