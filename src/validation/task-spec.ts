import { z } from 'zod';
import { parseQuantity } from './quantity.js';
import { retryPolicySchema } from './retry-policy.js';

/*
 * The task input contract. One schema validates everything `addTask` accepts, with messages in
 * one template ("<rule>, got <value>") that `ValidationError` prefixes with the field path.
 * Rules follow what the Kubernetes API would reject anyway, so bad input fails here, before
 * anything is stored or sent, instead of as a 422 minutes later.
 */

const got = (value: unknown): string => {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const qualifiedName =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const envName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
// docker/distribution reference grammar: [registry[:port]/]path[:tag][@digest]
const imageReference =
  /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$/;

/** Label and annotation keys reserved for the runner itself. */
export const reservedKeyPrefixes = [
  'k8s-jobs.io/',
  'app.kubernetes.io/managed-by',
  'batch.kubernetes.io/',
  'controller-uid',
  'job-name',
] as const;

const maxInt32 = 2 ** 31 - 1;

const taskId = z
  .string({ error: (i) => `must be a string, got ${got(i.input)}` })
  .min(1, { error: 'must not be empty' })
  .max(253, { error: (i) => `must be at most 253 characters, got ${String((i.input as string).length)}` })
  .regex(/^[\x21-\x7e]+$/, { error: (i) => `must be printable ASCII without spaces, got ${got(i.input)}` });

const nonNegativeInt = (what: string, max = maxInt32) =>
  z
    .number({ error: (i) => `must be a ${what}, got ${got(i.input)}` })
    .int({ error: (i) => `must be a whole ${what}, got ${got(i.input)}` })
    .min(0, { error: (i) => `must be ≥ 0, got ${got(i.input)}` })
    .max(max, { error: (i) => `must be ≤ ${max}, got ${got(i.input)}` });

const argv = z
  .array(
    z
      .string({ error: (i) => `must be a string, got ${got(i.input)}` })
      .refine((s) => !s.includes('\0'), { error: 'must not contain NUL characters' }),
    {
      error: (i) => `must be an array of strings, got ${got(i.input)}`,
    },
  )
  .max(4096, { error: 'must have at most 4096 entries' });

const keySelector = z.strictObject({
  name: z.string().regex(dns1123Subdomain, {
    error: (i) => `must be a DNS-1123 subdomain (a Secret/ConfigMap name), got ${got(i.input)}`,
  }),
  key: z
    .string()
    .min(1, { error: 'must not be empty' })
    .regex(/^[-._a-zA-Z0-9]+$/, {
      error: (i) => `must consist of alphanumerics, '-', '_' or '.', got ${got(i.input)}`,
    }),
  optional: z.boolean().optional(),
});

const envVar = z.union(
  [
    z.strictObject({
      name: z
        .string()
        .regex(envName, { error: (i) => `must be a valid environment variable name, got ${got(i.input)}` }),
      value: z.string({ error: (i) => `must be a string, got ${got(i.input)}` }),
    }),
    z.strictObject({
      name: z
        .string()
        .regex(envName, { error: (i) => `must be a valid environment variable name, got ${got(i.input)}` }),
      valueFrom: z.union(
        [
          z.strictObject({ secretKeyRef: keySelector }),
          z.strictObject({ configMapKeyRef: keySelector }),
          z.strictObject({
            fieldRef: z.strictObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() }),
          }),
        ],
        { error: 'must be exactly one of secretKeyRef, configMapKeyRef, fieldRef' },
      ),
    }),
  ],
  { error: 'must be { name, value } or { name, valueFrom } (secrets by reference only)' },
);

const quantity = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => parseQuantity(v) !== undefined, {
    error: (i) => `must be a Kubernetes quantity such as "500m", "1", "128Mi", got ${got(i.input)}`,
  });

const resourceList = z.record(
  z
    .string()
    .regex(qualifiedName, { error: (i) => `must be a resource name such as cpu or memory, got ${got(i.input)}` }),
  quantity,
);

const resources = z
  .strictObject({ requests: resourceList.optional(), limits: resourceList.optional() })
  .superRefine((value, ctx) => {
    for (const [name, request] of Object.entries(value.requests ?? {})) {
      const limit = value.limits?.[name];
      if (limit !== undefined && (parseQuantity(request) ?? 0) > (parseQuantity(limit) ?? Infinity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['requests', name],
          message: `must be less than or equal to the ${name} limit of ${limit}, got "${request}"`,
        });
      }
    }
  });

const metadataMap = (kind: 'labels' | 'annotations') =>
  z.record(z.string(), z.string({ error: (i) => `must be a string, got ${got(i.input)}` })).superRefine((map, ctx) => {
    for (const [key, value] of Object.entries(map)) {
      if (!qualifiedName.test(key) || (key.split('/').pop() ?? '').length > 63) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `key must be a qualified name ([prefix/]name, name ≤ 63 characters), got ${got(key)}`,
        });
      } else if (reservedKeyPrefixes.some((p) => key.startsWith(p))) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `key is reserved for k8s-jobs and Kubernetes, got ${got(key)}`,
        });
      }
      if (kind === 'labels' && (value.length > 63 || !labelValue.test(value))) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `value must be ≤ 63 characters of alphanumerics, '-', '_' or '.', starting and ending alphanumeric, got ${got(value)}`,
        });
      }
    }
  });

/**
 * A unit of work: one container run as one Kubernetes Job.
 *
 * Secrets go in by reference only (`env[].valueFrom.secretKeyRef`), so nothing secret is stored.
 */
export const taskSpecSchema = z.strictObject({
  /** Unique task id; the Job name is derived from it. */
  id: taskId,
  /** Container image reference. */
  image: z
    .string({ error: (i) => `must be a string, got ${got(i.input)}` })
    .min(1, { error: 'must not be empty' })
    .max(4096)
    .regex(imageReference, {
      error: (i) => `must be a valid image reference such as "busybox:1.36", got ${got(i.input)}`,
    }),
  /** Entrypoint argv (the image's ENTRYPOINT when omitted). */
  command: argv
    .refine((a) => a.length > 0 && a[0] !== '', { error: 'must start with a non-empty executable' })
    .optional(),
  /** Arguments (the image's CMD when omitted). */
  args: argv.optional(),
  /** Seconds from the Job's start after which the task is timed out. */
  timeout: z
    .number({ error: (i) => `must be a number of seconds, got ${got(i.input)}` })
    .int({ error: (i) => `must be a whole number of seconds, got ${got(i.input)}` })
    .positive({ error: (i) => `must be > 0 seconds, got ${got(i.input)}` })
    .max(maxInt32)
    .optional(),
  env: z
    .array(envVar)
    .max(1024)
    .superRefine((vars, ctx) => {
      const seen = new Set<string>();
      vars.forEach((v, index) => {
        if (seen.has(v.name))
          ctx.addIssue({
            code: 'custom',
            path: [index, 'name'],
            message: `must be unique, got duplicate ${got(v.name)}`,
          });
        seen.add(v.name);
      });
    })
    .optional(),
  resources: resources.optional(),
  labels: metadataMap('labels').optional(),
  annotations: metadataMap('annotations').optional(),
  serviceAccountName: z
    .string()
    .max(253)
    .regex(dns1123Subdomain, { error: (i) => `must be a DNS-1123 subdomain, got ${got(i.input)}` })
    .optional(),
  /** Pod retries before the Job fails. @default 0 (a task runs once) */
  backoffLimit: nonNegativeInt('number of retries', 1000).optional(),
  /** Higher runs first; FIFO within one priority. @default 0 */
  priority: z
    .number({ error: (i) => `must be a number, got ${got(i.input)}` })
    .int({ error: (i) => `must be a whole number, got ${got(i.input)}` })
    .min(-1_000_000)
    .max(1_000_000)
    .optional(),
  /**
   * Retries by reason (disruptions, image pulls, out-of-memory), over the runner's `retry` default.
   * Quota refusals are not failures at all: the task waits for room.
   */
  retry: retryPolicySchema.optional(),
  /** Passed to the Job: Kubernetes deletes it this long after it finished (when cleanup keeps Jobs). */
  ttlSecondsAfterFinished: nonNegativeInt('number of seconds').optional(),
  /** A merge patch applied to the generated pod template, for anything else. */
  podTemplate: z
    .record(z.string(), z.unknown(), { error: (i) => `must be an object (a pod template patch), got ${got(i.input)}` })
    .optional(),
});

/** A validated task specification. */
export type TaskSpec = z.output<typeof taskSpecSchema>;
/** What `addTask` accepts (quantities may be numbers). */
export type TaskInput = z.input<typeof taskSpecSchema>;
