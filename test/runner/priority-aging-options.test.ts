import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { resolveRunnerOptions, type RunnerOptions } from '../../src/runner/options.js';

describe('the priorityAging option', () => {
  test('off unless given; `{}` takes the defaults 60 s / 1 / 10', () => {
    expect(resolveRunnerOptions({}).priorityAging).toBeUndefined();
    expect(resolveRunnerOptions({ priorityAging: {} }).priorityAging).toEqual({ everySeconds: 60, step: 1, max: 10 });
    expect(resolveRunnerOptions({ priorityAging: { everySeconds: 0.5, max: 3 } }).priorityAging).toEqual({
      everySeconds: 0.5,
      step: 1,
      max: 3,
    });
  });

  test.each([
    [{ everySeconds: 0 }, 'priorityAging.everySeconds'],
    [{ step: 1.5 }, 'priorityAging.step'],
    [{ max: 0 }, 'priorityAging.max'],
    [{ every: 60 }, 'priorityAging'],
  ])('%j is refused with a ValidationError naming %s', (priorityAging, field) => {
    const refused = (() => {
      try {
        resolveRunnerOptions({ priorityAging } as RunnerOptions);
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).message).toContain(field);
  });
});
