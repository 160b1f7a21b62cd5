import { InvalidArgumentError } from 'commander';

/** `--port`: a TCP port, 0 for any free one. */
export function parsePort(raw: string): number {
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(`must be an integer from 0 to 65535, got "${raw}"`);
  return port;
}

/** `--time-scale`, `--timeout`: a finite number greater than 0. */
export function parsePositiveNumber(raw: string): number {
  const scale = Number(raw);
  if (!(scale > 0) || !Number.isFinite(scale))
    throw new InvalidArgumentError(`must be a number greater than 0, got "${raw}"`);
  return scale;
}

/** `--timeout` of a task: a whole number of seconds greater than 0. */
export function parsePositiveInteger(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new InvalidArgumentError(`must be a whole number greater than 0, got "${raw}"`);
  return value;
}

/**
 * Resolves once the process receives SIGINT or SIGTERM, with the signal's name. Aborting `until`
 * stops listening (the promise then never settles).
 */
export function untilSignal(until?: AbortSignal): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const off = (): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    };
    const on = (signal: NodeJS.Signals): void => {
      off();
      until?.removeEventListener('abort', off);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    until?.addEventListener('abort', off, { once: true });
  });
}
