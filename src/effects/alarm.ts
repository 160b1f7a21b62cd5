import { fromCallback } from 'xstate';
import type { AlarmCommand, AlarmInput, TaskEvent } from '../machines/task/contract.js';
import { maxTimerMs } from '../time/sleep.js';

export interface AlarmEffectOptions {
  /** Epoch ms. */
  now: () => number;
}

/**
 * `alarm`: sends `{ type: 'ALARM', at: now() }` once `now()` reaches `at`; `{ type: 'ARM', at }`
 * re-arms it (`at: undefined` disarms). Waits longer than a Node timer allows are chained.
 */
export function alarmEffect(options: AlarmEffectOptions) {
  const { now } = options;
  return fromCallback<AlarmCommand, AlarmInput>(({ input, sendBack, receive }) => {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const arm = (at: number | undefined): void => {
      clearTimeout(timer);
      timer = undefined;
      if (at === undefined || stopped) return;
      const delay = at - now();
      timer = setTimeout(
        () => {
          timer = undefined;
          // A timer may fire a little before `now()` agrees; the machine would ignore an early ALARM.
          if (now() < at) arm(at);
          else if (!stopped) sendBack({ type: 'ALARM', at: now() } satisfies TaskEvent);
        },
        Math.min(Math.max(0, delay), maxTimerMs),
      );
    };
    receive((command) => {
      if (command.type === 'ARM') arm(command.at);
    });
    arm(input.at);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
