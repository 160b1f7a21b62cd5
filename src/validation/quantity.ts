/**
 * Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1e3`), parsed to a number of base
 * units so requests can be compared with limits the way the API server does.
 */
const suffixes: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const quantityPattern =
  /^([+]?[0-9]+(?:\.[0-9]*)?|[+]?\.[0-9]+)(?:(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)|[eE]([+-]?[0-9]+))?$/;

/** The quantity's value in base units, or undefined when it is not a valid quantity. */
export function parseQuantity(text: string): number | undefined {
  const match = quantityPattern.exec(text);
  if (!match) return undefined;
  const base = Number(match[1]);
  if (match[3] !== undefined) return base * 10 ** Number(match[3]);
  return base * (suffixes[match[2] ?? ''] ?? 1);
}
