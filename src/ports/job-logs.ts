/*
 * What the engine reads of a Job's logs through `JobsPort`: capped reads and a live follow. Plain
 * data and interfaces only; the Kubernetes adapter implements them.
 */
import type { CappedLog } from '../logs/capped-log.js';
import type { PodView } from '../machines/task/contract.js';

/** A capped log of one container. */
export interface PodLog extends CappedLog {
  pod: string;
  container: string;
}

/** Options of one capped log read of a Job. */
export interface JobLogReadOptions {
  signal?: AbortSignal;
  /** Cap of this read (head + marker + tail). @default the adapter's `logMaxBytes` */
  maxBytes?: number;
  /** The Job's pods as the caller knows them (the shared watch); without them they are listed. */
  pods?: readonly PodView[];
}

/** One line of a followed log. */
export interface FollowedLine {
  /** The line without its timestamp and newline. */
  text: string;
  /** The pod it came from. */
  pod: string;
  /** Bytes of that pod's log up to and including this line (as the kubelet counts them, without timestamps). */
  offset: number;
}

/**
 * "Something changed", for a loop that must not miss a change that happens between reading the
 * state and waiting: each change bumps `version`, which the loop compares with.
 */
export interface ChangeSource {
  /** Bumped by every change. */
  readonly version: number;
  /** True once the source completed: nothing will change any more. */
  readonly ended: boolean;
  /** Throws what the source failed with, if it did. */
  throwIfFailed(): void;
  /** Resolves at the first change after version `seen` (at once if there was one), at the end, or on abort. */
  since(seen: number, signal: AbortSignal): Promise<void>;
}

/** How a follow ended. */
export interface FollowEnd {
  /**
   * The pod whose log the last stream read to its end: its container exited and the kubelet
   * ended the stream once it had sent everything (undefined when the follow stopped otherwise:
   * aborted, cut with the task finished, or no stream at all). What a reader that fell behind
   * skipped when the file rotated is not read again; no API serves rotated files.
   */
  drainedPod?: string;
}

/** What `JobsPort.followJobLog` follows and when it stops. */
export interface FollowJobLogOptions {
  /** The Job's pods as currently known (the shared watch); the newest one is followed. */
  pods: () => readonly PodView[];
  /**
   * True once no more output is worth waiting for (the task finished): no new connection is made,
   * except to resume a stream that was cut, and a stream then silent for the request timeout is
   * given up.
   */
  finished: () => boolean;
  /** Told whenever `pods()` or `finished()` may have changed; its end counts as finished. */
  changes: ChangeSource;
  signal: AbortSignal;
  onLine: (line: FollowedLine) => void;
}
