import type { V1Job } from '@kubernetes/client-node';
import { fingerprintSpec } from '../effects/fingerprint.js';
import { fingerprintAnnotation, taskContainerName, taskIdAnnotation } from '../effects/labels.js';
import type { TaskSpec } from '../types.js';
import { parseTaskSpec } from '../validation/parse.js';
import { reservedKeyPrefixes, type TaskInput } from '../validation/task-spec.js';

/** A task rebuilt from an orphan Job (`orphans: 'adopt'`). */
export interface OrphanTask {
  spec: TaskSpec;
  /** The Job's fingerprint annotation (so a re-run create adopts this very Job), else the rebuilt spec's. */
  fingerprint: string;
}

const userKeys = (map: Record<string, string> | undefined): Record<string, string> | undefined => {
  const kept = Object.entries(map ?? {}).filter(([key]) => !reservedKeyPrefixes.some((prefix) => key.startsWith(prefix)));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
};

/**
 * Rebuilds a task from a Job of ours, the inverse of `buildJobManifest` as far as the Job tells:
 * id from the `k8s-jobs.io/task-id` annotation (else the Job's name); the `task` container (else
 * the first) gives image, command, args, env and resources; `activeDeadlineSeconds` the timeout.
 * A `podTemplate` patch cannot be told apart from what it patched, so it is not rebuilt. Throws
 * `ValidationError` when the result is not a valid task (e.g. a container without an image).
 */
export function taskFromOrphanJob(job: V1Job): OrphanTask {
  const annotations = job.metadata?.annotations ?? {};
  const containers = job.spec?.template.spec?.containers ?? [];
  const container = containers.find((c) => c.name === taskContainerName) ?? containers[0];
  const template = job.spec?.template.spec;
  const input: Record<string, unknown> = { id: annotations[taskIdAnnotation] ?? job.metadata?.name, image: container?.image };
  const optional: Record<string, unknown> = {
    command: container?.command,
    args: container?.args,
    env: container?.env,
    resources: container?.resources && (container.resources.requests || container.resources.limits) ? container.resources : undefined,
    timeout: job.spec?.activeDeadlineSeconds,
    // 0 is the manifest's default for an absent backoffLimit: leave it absent so fingerprints match.
    backoffLimit: job.spec?.backoffLimit ? job.spec.backoffLimit : undefined,
    ttlSecondsAfterFinished: job.spec?.ttlSecondsAfterFinished,
    serviceAccountName: template?.serviceAccountName,
    labels: userKeys(job.metadata?.labels),
    annotations: userKeys(annotations),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) input[key] = value;
  const spec = parseTaskSpec(input as TaskInput);
  return { spec, fingerprint: annotations[fingerprintAnnotation] ?? fingerprintSpec(spec) };
}
