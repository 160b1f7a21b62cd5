import { maxNotifyBytes } from '../store/postgres-notifier.js';
import type { Transition } from '../types.js';

/**
 * What replicas tell each other through the store's notifier. Every message names its sender
 * (`origin`, the replica's identity), so a replica skips its own.
 * - `transitions`: transitions that are durable now, in the order they were written (a task's in
 *   its order). A transition from `null` is a new task: the leader picks it up.
 * - `cancel`: a follower left a cancel request in the store (`cancel:<id>`) for the leader.
 */
export type ReplicaMessage =
  | { kind: 'transitions'; origin: string; transitions: Transition[] }
  | { kind: 'cancel'; origin: string; taskId: string };

/** The message's text. */
export function encodeReplicaMessage(message: ReplicaMessage): string {
  return JSON.stringify(message);
}

/** A message's text back, or undefined for one this version does not know (a newer replica's). */
export function decodeReplicaMessage(text: string): ReplicaMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const message = value as Partial<ReplicaMessage> | null;
  if (typeof message?.origin !== 'string') return undefined;
  if (message.kind === 'transitions' && Array.isArray(message.transitions)) return message as ReplicaMessage;
  if (message.kind === 'cancel' && typeof message.taskId === 'string') return message as ReplicaMessage;
  return undefined;
}

/**
 * Transitions as few messages as fit the notifier's payload limit, in order. A transition too
 * large for a message of its own (an id of thousands of characters) is left out: the listeners
 * read the store again for it when they next resynchronise.
 */
export function transitionMessages(origin: string, transitions: readonly Transition[]): string[] {
  const texts: string[] = [];
  let batch: Transition[] = [];
  const flush = (): void => {
    if (batch.length > 0) texts.push(encodeReplicaMessage({ kind: 'transitions', origin, transitions: batch }));
    batch = [];
  };
  const envelope = Buffer.byteLength(encodeReplicaMessage({ kind: 'transitions', origin, transitions: [] }));
  let bytes = envelope;
  for (const transition of transitions) {
    const size = Buffer.byteLength(JSON.stringify(transition)) + 1;
    if (envelope + size > maxNotifyBytes) continue;
    if (bytes + size > maxNotifyBytes) {
      flush();
      bytes = envelope;
    }
    batch.push(transition);
    bytes += size;
  }
  flush();
  return texts;
}
