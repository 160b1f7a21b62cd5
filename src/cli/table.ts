/**
 * Tables for humans (cli-table3), without colours: the output is the same on a terminal and in a
 * pipe, and tests can read it.
 */
import Table from 'cli-table3';

/** A table with `head` as its header row and `rows` below it. */
export function renderTable(head: string[], rows: string[][]): string {
  const table = new Table({ head, style: { head: [], border: [], compact: true } });
  table.push(...rows);
  return table.toString();
}

/** A two-column table of `label: value` pairs (the values of `show`). */
export function renderFields(fields: Array<[label: string, value: string]>): string {
  const table = new Table({ style: { head: [], border: [], compact: true } });
  for (const [label, value] of fields) table.push({ [label]: value });
  return table.toString();
}
