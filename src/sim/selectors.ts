import { badRequest } from './api-error.js';

/**
 * Label selectors with the full grammar of `k8s.io/apimachinery/pkg/labels`:
 * `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k`, `!k`, comma = AND.
 */
export type LabelRequirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

export type LabelSelector = LabelRequirement[];

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(input: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of input) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const labelKey =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string, raw: string): string {
  if (!labelKey.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${raw}"`);
  return key;
}

function checkValue(value: string): string {
  if (value.length > 63 || !labelValue.test(value)) {
    throw badRequest(
      `unable to parse requirement: values[0][${value}]: Invalid value: "${value}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  }
  return value;
}

export function parseLabelSelector(input: string | undefined | null): LabelSelector {
  if (!input) return [];
  return splitTopLevel(input).map((raw): LabelRequirement => {
    let m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(raw);
    if (m) {
      const values = (m[3] ?? '').split(',').map((v) => checkValue(v.trim()));
      return { key: checkKey(m[1] ?? '', raw), op: m[2] as 'in' | 'notin', values };
    }
    m = /^(.+?)\s*(==|!=|=)\s*(.*)$/.exec(raw);
    if (m) {
      const op = m[2] === '!=' ? 'neq' : 'eq';
      return { key: checkKey((m[1] ?? '').trim(), raw), op, value: checkValue((m[3] ?? '').trim()) };
    }
    if (raw.startsWith('!')) return { key: checkKey(raw.slice(1).trim(), raw), op: 'notexists' };
    return { key: checkKey(raw, raw), op: 'exists' };
  });
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const set = labels ?? {};
  return selector.every((req) => {
    const has = Object.prototype.hasOwnProperty.call(set, req.key);
    const value = set[req.key];
    switch (req.op) {
      case 'eq':
        return has && value === req.value;
      case 'neq':
        return !has || value !== req.value;
      case 'in':
        return has && req.values.includes(value ?? '');
      case 'notin':
        return !has || !req.values.includes(value ?? '');
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

/** Field selectors: `f=v`, `f==v`, `f!=v`, comma = AND, over a resource's selectable fields. */
export interface FieldRequirement {
  field: string;
  op: 'eq' | 'neq';
  value: string;
}

export function parseFieldSelector(input: string | undefined | null, supported: readonly string[]): FieldRequirement[] {
  if (!input) return [];
  return splitTopLevel(input).map((raw) => {
    const m = /^(.+?)\s*(==|!=|=)\s*(.*)$/.exec(raw);
    if (!m) throw badRequest(`invalid selector: '${input}'; can't understand '${raw}'`);
    const field = (m[1] ?? '').trim();
    if (!supported.includes(field)) throw badRequest(`field label not supported: ${field}`);
    return { field, op: m[2] === '!=' ? 'neq' : 'eq', value: (m[3] ?? '').trim() };
  });
}

export function matchesFields(selector: FieldRequirement[], fields: Record<string, string>): boolean {
  return selector.every((req) => {
    const value = fields[req.field] ?? '';
    return req.op === 'eq' ? value === req.value : value !== req.value;
  });
}
