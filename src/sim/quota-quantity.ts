import { parseQuantity } from '../validation/quantity.js';

/*
 * `resource.Quantity` arithmetic as quota and LimitRange admission need it: values kept in
 * milli-units (so `500m` CPU and `128Mi` bytes are both exact integers), the format the quantity
 * was written in (binary `Ki`…`Ei`, decimal, or exponent), and Go's canonical `String()` so
 * messages and `status.used` read as the apiserver writes them.
 */

/** Go's `resource.Format`. */
export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

/** A quantity: its value in milli-units and the format its canonical string uses. */
export interface Quantity {
  milli: number;
  format: QuantityFormat;
}

/** A named set of quantities (`corev1.ResourceList`). */
export type QuantityList = Record<string, Quantity>;

/** The zero quantity `resource.Quantity{Format: DecimalSI}` that quota usage starts from. */
export const zeroQuantity: Quantity = { milli: 0, format: 'DecimalSI' };

/** Parses a quantity as written in an object; undefined when it is not one. */
export function toQuantity(value: unknown): Quantity | undefined {
  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  const text = String(value);
  const parsed = parseQuantity(text);
  if (parsed === undefined) return undefined;
  const format: QuantityFormat = /[KMGTPE]i$/.test(text)
    ? 'BinarySI'
    : /[eE][+-]?\d+$/.test(text)
      ? 'DecimalExponent'
      : 'DecimalSI';
  // Sub-milli precision rounds up, as Quantity does when it is asked for a milli value.
  return { milli: Math.ceil(parsed * 1000 - 1e-6), format };
}

/** `Quantity.Add`: a zero receiver takes the other operand's format. */
export function addQuantity(a: Quantity, b: Quantity): Quantity {
  return { milli: a.milli + b.milli, format: a.milli === 0 ? b.format : a.format };
}

/** `quota.Add`: the sum of two lists, resource by resource. */
export function addLists(a: QuantityList, b: QuantityList): QuantityList {
  const out: QuantityList = { ...a };
  for (const [name, q] of Object.entries(b)) out[name] = out[name] ? addQuantity(out[name], q) : q;
  return out;
}

/** `quota.Mask`: only the named resources. */
export function maskList(list: QuantityList, names: Iterable<string>): QuantityList {
  const out: QuantityList = {};
  for (const name of names) if (list[name]) out[name] = list[name];
  return out;
}

const binarySuffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const decimalSuffixes = ['', 'k', 'M', 'G', 'T', 'P', 'E'];

/** Go's canonical `Quantity.String()`: the largest exact suffix of the quantity's format. */
export function formatQuantity(q: Quantity): string {
  if (q.milli === 0) return '0';
  if (q.milli % 1000 !== 0) {
    // A fractional value always prints in milli-units (binary ones fall back to decimal).
    if (q.format === 'DecimalExponent') return `${q.milli}e-3`;
    return `${q.milli}m`;
  }
  let units = q.milli / 1000;
  // CanonicalizeBytes: binary only for |value| ≥ 1024, and only by exact powers of 1024.
  if (q.format === 'BinarySI' && Math.abs(units) >= 1024) {
    let i = 0;
    while (i < binarySuffixes.length - 1 && units % 1024 === 0) {
      units /= 1024;
      i++;
    }
    return `${units}${binarySuffixes[i]}`;
  }
  let exponent = 0;
  while (exponent < 18 && units % 1000 === 0) {
    units /= 1000;
    exponent += 3;
  }
  if (q.format === 'DecimalExponent') return exponent === 0 ? `${units}` : `${units}e${exponent}`;
  return `${units}${decimalSuffixes[exponent / 3]}`;
}

/** A list as `prettyPrint` writes it in quota messages: `k=v` sorted by name, comma-joined. */
export function prettyPrintList(list: QuantityList): string {
  return Object.keys(list)
    .sort()
    .map((name) => `${name}=${formatQuantity(list[name]!)}`)
    .join(',');
}

/** A list as stored (`status.used`, `status.hard`): canonical strings. */
export function serializeList(list: QuantityList): Record<string, string> {
  // Go writes map keys sorted.
  return Object.fromEntries(
    Object.keys(list)
      .sort()
      .map((name) => [name, formatQuantity(list[name]!)]),
  );
}

/** A stored `ResourceList` read back; entries that are not quantities are left out. */
export function readList(value: unknown): QuantityList {
  const out: QuantityList = {};
  if (typeof value !== 'object' || value === null) return out;
  for (const [name, raw] of Object.entries(value as Record<string, unknown>)) {
    const q = toQuantity(raw);
    if (q) out[name] = q;
  }
  return out;
}
