import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { jobNameFor } from '../../src/jobs/job-name.js';
import { buildJobManifest } from '../../src/kube/job-manifest.js';
import { checkTaskPodSecurity } from '../../src/runner/task-pod-security.js';
import { parseTaskSpec } from '../../src/validation/parse.js';
import { assertPodSecurity, type PodSecurityLevel } from '../../src/validation/pod-security.js';
import type { TaskInput } from '../../src/validation/task-spec.js';

/*
 * checkTaskPodSecurity keeps one verdict per level for specs without `podTemplate` and
 * `annotations`. That is only right while no other field of the spec can change what the checks
 * read: each case below varies one field, and its kept verdict must be the full check's.
 */

const namespace = 'default';
const levels: PodSecurityLevel[] = ['baseline', 'restricted'];

/** The error message of `check()`, or '' when it passes. */
function verdictOf(check: () => void): string {
  try {
    check();
    return '';
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).message;
  }
}

/** The check without any kept verdict: the template built and checked. */
function fullVerdict(input: TaskInput, level: PodSecurityLevel): string {
  const spec = parseTaskSpec(input);
  const job = buildJobManifest({ taskId: spec.id, jobName: jobNameFor(spec.id), namespace, spec, fingerprint: '' });
  return verdictOf(() => assertPodSecurity(job.spec?.template ?? {}, level));
}

const keptVerdict = (input: TaskInput, level: PodSecurityLevel): string =>
  verdictOf(() => checkTaskPodSecurity(parseTaskSpec(input), namespace, level));

const base = { image: 'busybox:1.36', command: ['true'] };
/** Specs without `podTemplate` and `annotations`, each varying one other field. */
const plainSpecs: [string, TaskInput][] = [
  ['the minimal spec', { id: 'minimal', ...base }],
  ['an id that is not a Job name', { id: 'Not_A.Name', ...base }],
  ['another image', { id: 'image', image: 'registry.example/tools/run:2', command: ['run'] }],
  ['args', { id: 'args', ...base, args: ['--privileged', '--hostNetwork'] }],
  ['env', { id: 'env', ...base, env: [{ name: 'SECURITY_CONTEXT', value: 'privileged' }] }],
  ['resources', { id: 'resources', ...base, resources: { limits: { memory: '64Mi', cpu: '1' } } }],
  ['labels', { id: 'labels', ...base, labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } }],
  ['a service account', { id: 'account', ...base, serviceAccountName: 'builder' }],
  ['a timeout', { id: 'timeout', ...base, timeout: 30 }],
  ['retries', { id: 'retries', ...base, backoffLimit: 3 }],
  ['a priority', { id: 'priority', ...base, priority: 7 }],
  ['a TTL', { id: 'ttl', ...base, ttlSecondsAfterFinished: 60 }],
  ['a retry policy', { id: 'retry', ...base, retry: { disruptions: 1, imagePull: 2, oomKilled: { attempts: 1 } } }],
  [
    'env from a Secret',
    { id: 'secret-env', ...base, env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'api', key: 'token' } } }] },
  ],
];

describe('checkTaskPodSecurity: the verdict kept for specs without podTemplate and annotations', () => {
  test.each(levels)('is the full check of each spec at %s', (level) => {
    for (const [what, input] of plainSpecs) {
      expect(keptVerdict(input, level), what).toBe(fullVerdict(input, level));
    }
    // The restricted level refuses the generated template (it sets no security context).
    expect(fullVerdict({ id: 'minimal', ...base }, level) === '').toBe(level === 'baseline');
  });

  test('a spec with annotations or a podTemplate is still checked in full once a verdict is kept', () => {
    expect(keptVerdict({ id: 'plain', ...base }, 'baseline')).toBe('');
    const unconfined: TaskInput = {
      id: 'unconfined',
      ...base,
      annotations: { 'container.apparmor.security.beta.kubernetes.io/task': 'unconfined' },
    };
    expect(keptVerdict(unconfined, 'baseline')).toContain('forbidden AppArmor profile');
    const privileged: TaskInput = {
      id: 'privileged',
      ...base,
      podTemplate: { spec: { containers: [{ name: 'task', ...base, securityContext: { privileged: true } }] } },
    };
    expect(keptVerdict(privileged, 'baseline')).toContain('privileged');
  });

  test('a kept refusal is thrown as a new error each time', () => {
    const errorOf = (): unknown => {
      try {
        checkTaskPodSecurity(parseTaskSpec({ id: 'soft', ...base }), namespace, 'restricted');
      } catch (err) {
        return err;
      }
      throw new Error('the restricted level passed a spec without a security context');
    };
    const [first, second] = [errorOf(), errorOf()];
    expect(second).not.toBe(first);
    expect((second as Error).message).toBe((first as Error).message);
  });
});
