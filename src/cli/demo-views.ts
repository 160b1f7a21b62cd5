/**
 * The demo's two views of the runner's progress: a live view redrawn in place on a terminal
 * (log-update), and one plain line per transition otherwise (pipes, CI logs).
 */
import { createLogUpdate } from 'log-update';
import type { Transition } from '../types.js';
import type { DemoTracker, TrackedTask } from './demo-tracker.js';
import { clockTime, formatDuration } from './format.js';

/** A view of the demo's progress. */
export interface DemoView {
  /** A transition was applied to the tracker (the record's reason too, for an outcome). */
  transition(transition: Transition, reason: string): void;
  /** Stops redrawing; the last frame stays on screen. */
  stop(): void;
}

/** One line per transition: `time  task  from → to  (reason)`. */
export function plainView(write: (line: string) => void, idWidth: number): DemoView {
  return {
    transition(t, reason) {
      const why = t.outcome !== undefined && t.to === t.outcome && reason ? `  ${reason}` : '';
      write(
        `${clockTime(t.at)}  ${t.taskId.padEnd(idWidth)}  ${(t.from ?? '—').padEnd(9)} → ${t.to.padEnd(9)}${why}`.trimEnd(),
      );
    },
    stop() {},
  };
}

const barWidth = 30;

/** `██████░░░░` for `done` of `total`. */
export function progressBar(done: number, total: number, width = barWidth): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

const marks: Record<string, string> = { succeeded: '✔', failed: '✖', timedOut: '⏱', cancelled: '⊘' };

/** One task's line: mark, id, state, elapsed time (in the queue, running, or its run), reason. */
function taskLine(task: TrackedTask, now: number, idWidth: number): string {
  const mark = task.outcome
    ? (marks[task.outcome] ?? '•')
    : task.state === undefined
      ? ' '
      : task.state === 'queued'
        ? '…'
        : '▶';
  const elapsed =
    task.finishedAt !== undefined && task.dequeuedAt !== undefined
      ? task.finishedAt - task.dequeuedAt
      : task.dequeuedAt !== undefined
        ? now - task.dequeuedAt
        : task.queuedAt !== undefined
          ? now - task.queuedAt
          : undefined;
  const what = task.outcome ? [task.outcome, task.reason].filter((s) => s).join(': ') : '';
  return `  ${mark} ${task.id.padEnd(idWidth)}  ${(task.state ?? '—').padEnd(9)} ${formatDuration(elapsed).padStart(6)}  ${what}`.trimEnd();
}

/** The whole frame: heading, progress bar with counts, one line per task. */
export function renderFrame(heading: string, tracker: DemoTracker, now: number, idWidth: number): string {
  const { total, finished, running, queued } = tracker.progress();
  return [
    heading,
    `${progressBar(finished, total)}  ${finished}/${total} finished · ${running} running · ${queued} queued`,
    '',
    ...tracker.tasks().map((task) => taskLine(task, now, idWidth)),
  ].join('\n');
}

/** Redraws the frame on every transition and every 100 ms (elapsed times move). */
export function liveView(stream: NodeJS.WriteStream, heading: string, tracker: DemoTracker, idWidth: number): DemoView {
  const update = createLogUpdate(stream);
  const draw = (): void => update(renderFrame(heading, tracker, Date.now(), idWidth));
  draw();
  const ticker = setInterval(draw, 100);
  return {
    transition: draw,
    stop() {
      clearInterval(ticker);
      draw();
      update.done();
    },
  };
}
