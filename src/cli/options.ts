import { InvalidArgumentError } from 'commander';

/** `--port`: a TCP port, 0 for any free one. */
export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`must be an integer from 0 to 65535, got "${raw}"`);
  return port;
}

/** `--time-scale`, `--timeout`: a finite number greater than 0. */
export function parsePositiveNumber(raw: string): number {
  const scale = Number(raw);
  if (!(scale > 0) || !Number.isFinite(scale)) throw new InvalidArgumentError(`must be a number greater than 0, got "${raw}"`);
  return scale;
}

/** Resolves once the process receives SIGINT or SIGTERM, with the signal's name. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}
