import { describe, expect, test } from 'vitest';
import { classify } from '../../src/machines/task/classify.js';
import { troubleSignature } from '../../src/effects/trouble.js';
import { T0, container, jobView, observation, podView, runningContext, sec } from '../machines/fixtures.js';

/*
 * How a Pod Security Admission refusal decides a task: the trouble that makes the observer fetch
 * the Job's events (a started Job without pods), and the verdict those events lead to — at once
 * while nothing ever ran, never from an old refusal once a container did.
 */

const refusal =
  'FailedCreate: Error creating: pods "job-t1-x2b4c" is forbidden: violates PodSecurity "baseline:latest": ' +
  'host namespaces (hostNetwork=true)';
const noPods = jobView({ active: 0 });

describe('a Job whose pods are refused', () => {
  test('a started Job with no pod at all is trouble (so its events are fetched); one with pods or active is not', () => {
    expect(troubleSignature(observation(T0, noPods))).toBe('job:NoPods');
    expect(troubleSignature(observation(T0, jobView({ active: 0, startTime: undefined })))).toBe('');
    expect(troubleSignature(observation(T0, jobView({ active: 1 })))).toBe('');
    expect(troubleSignature(observation(T0, noPods, [podView()]))).toBe('');
  });

  test('fails the task at once (seconds into a ten-minute pending budget) with the refusal as its message', () => {
    const { verdict } = classify(runningContext(), observation(T0 + sec(2), noPods, [], ['Scheduled: x', refusal]));
    // A deadline verdict (its deadline is the Job's creation): applied once a fresh read confirms it.
    expect(verdict).toEqual({
      outcome: 'failed',
      jobFinished: false,
      byDeadline: true,
      failure: {
        reason: 'PodSecurityViolation',
        message:
          "The namespace's Pod Security Admission refuses the Job's pods: " +
          'violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true)',
        events: ['Scheduled: x', refusal],
      },
    });
  });

  test('an old refusal decides nothing once a pod is alive, or once a container ran', () => {
    const alive = podView({ phase: 'Pending' });
    expect(classify(runningContext(), observation(T0 + sec(2), jobView(), [alive], [refusal])).verdict).toBeUndefined();
    const ran = podView({
      phase: 'Succeeded',
      containers: [container({ terminated: { exitCode: 0, reason: 'Completed' } })],
    });
    expect(classify(runningContext(), observation(T0 + sec(2), noPods, [ran], [refusal])).verdict).toBeUndefined();
  });
});
