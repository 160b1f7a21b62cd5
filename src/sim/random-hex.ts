import { randomFillSync } from 'node:crypto';

/** Entropy drawn 4 KiB at a time: `randomBytes` per name cost a system call each. */
const pool = Buffer.alloc(4096);
let offset = pool.length;

/**
 * `bytes` random bytes as lowercase hex (what `randomBytes(bytes).toString('hex')` gives), taken
 * from a pooled buffer refilled from the system's CSPRNG, as `crypto.randomUUID` does for its
 * ids. For the sim's generated names and container ids, made many times per Job.
 */
export function randomHex(bytes: number): string {
  if (bytes > pool.length) return randomFillSync(Buffer.alloc(bytes)).toString('hex');
  if (offset + bytes > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}
