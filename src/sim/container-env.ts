import type { ObjectStore } from './object-store.js';
import type { ContainerSpec } from './runtime.js';
import type { KubeObject } from './types.js';
import { parseQuantity } from '../validation/quantity.js';

/** A container's configuration could not be made: the kubelet's CreateContainerConfigError text. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

/** What the kubelet knows about the pod beyond its spec, for `fieldRef`/`resourceFieldRef`. */
export interface EnvContext {
  store: ObjectStore;
  pod: KubeObject;
  nodeName: string;
  hostIP: string;
  podIP: string;
  /** Node allocatable in base units, for limits a container does not set. */
  allocatable: { cpu: number; memory: number; 'ephemeral-storage': number };
}

/** The environment of a container and the keys envFrom had to skip (reported as an event). */
export interface ContainerEnvironment {
  env: Record<string, string>;
  skipped: { kind: 'configMap' | 'secret'; name: string; keys: string[] }[];
}

// Each lookup goes to the watch-based manager, whose NotFound uses the singular resource name.
function getConfigMap(ctx: EnvContext, name: string): KubeObject | undefined {
  return ctx.store.get('configmaps', ctx.pod.metadata.namespace, name);
}

function getSecret(ctx: EnvContext, name: string): KubeObject | undefined {
  return ctx.store.get('secrets', ctx.pod.metadata.namespace, name);
}

function secretValue(secret: KubeObject, key: string): string | undefined {
  const data = (secret['data'] ?? {}) as Record<string, string>;
  const value = data[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

const envVarName = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/**
 * Kubernetes' `$(VAR)` expansion (third_party/forked/golang/expansion): `$(NAME)` becomes the
 * value when NAME is defined and stays as written otherwise; `$$` is an escaped `$`.
 */
export function expandVariables(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length; cursor++) {
    if (input[cursor] !== '$' || cursor + 1 >= input.length) continue;
    out += input.slice(checkpoint, cursor);
    const rest = input.slice(cursor + 1);
    let advance = 1;
    if (rest[0] === '$') out += '$';
    else if (rest[0] === '(') {
      const close = rest.indexOf(')', 1);
      if (close === -1) out += '$(';
      else {
        const name = rest.slice(1, close);
        out += lookup(name) ?? `$(${name})`;
        advance = close + 1;
      }
    } else out += `$${rest[0]}`;
    cursor += advance;
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** `metadata.labels['key']` → `key`. */
function subscript(path: string, prefix: string): string | undefined {
  const match = new RegExp(`^${prefix.replace('.', '\\.')}\\['(.*)'\\]$`).exec(path);
  return match?.[1];
}

function fieldRefValue(ctx: EnvContext, fieldPath: string): string {
  const { pod } = ctx;
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return ctx.nodeName;
    case 'spec.serviceAccountName':
      return String(pod.spec?.serviceAccountName ?? '');
    case 'status.hostIP':
    case 'status.hostIPs':
      return ctx.hostIP;
    case 'status.podIP':
    case 'status.podIPs':
      return ctx.podIP;
  }
  const label = subscript(fieldPath, 'metadata.labels');
  if (label !== undefined) return pod.metadata.labels?.[label] ?? '';
  const annotation = subscript(fieldPath, 'metadata.annotations');
  if (annotation !== undefined) return pod.metadata.annotations?.[annotation] ?? '';
  throw new ContainerConfigError(`unsupported fieldPath: ${fieldPath}`);
}

/**
 * `resourceFieldRef`: the container's limit or request (limits default to node allocatable), rounded up in divisor
 * units.
 */
function resourceFieldValue(
  ctx: EnvContext,
  container: ContainerSpec,
  ref: { resource: string; divisor?: string; containerName?: string },
): string {
  const target = ref.containerName
    ? (((ctx.pod.spec?.containers ?? []) as ContainerSpec[]).find((c) => c.name === ref.containerName) ?? container)
    : container;
  const [kind, resource] = ref.resource.split('.', 2) as [
    'limits' | 'requests',
    'cpu' | 'memory' | 'ephemeral-storage',
  ];
  const declared =
    target.resources?.[kind]?.[resource] ?? (kind === 'requests' ? target.resources?.limits?.[resource] : undefined);
  const value =
    declared !== undefined ? (parseQuantity(String(declared)) ?? 0) : kind === 'limits' ? ctx.allocatable[resource] : 0;
  const divisor = parseQuantity(ref.divisor ?? '1') || 1;
  return String(Math.ceil(value / divisor));
}

/**
 * The kubelet's `makeEnvironmentVariables`: envFrom sources (with prefix; keys that are not
 * valid variable names skipped), then `env` in order with `$(VAR)` expanded against what is
 * defined so far, `valueFrom` resolved. Missing objects or keys that are not optional throw
 * {@link ContainerConfigError} with the kubelet's message.
 */
export function containerEnvironment(ctx: EnvContext, container: ContainerSpec): ContainerEnvironment {
  const env: Record<string, string> = {};
  const skipped: ContainerEnvironment['skipped'] = [];
  const namespace = ctx.pod.metadata.namespace ?? '';
  for (const source of container.envFrom ?? []) {
    const prefix = String(source.prefix ?? '');
    const ref = source.configMapRef ?? source.secretRef;
    if (!ref) continue;
    const isSecret = source.secretRef !== undefined;
    const obj = isSecret ? getSecret(ctx, ref.name) : getConfigMap(ctx, ref.name);
    if (!obj) {
      if (ref.optional) continue;
      throw new ContainerConfigError(`${isSecret ? 'secret' : 'configmap'} "${ref.name}" not found`);
    }
    const invalid: string[] = [];
    for (const key of Object.keys(obj['data'] ?? {})) {
      const name = prefix + key;
      if (!envVarName.test(name)) {
        invalid.push(name);
        continue;
      }
      env[name] = isSecret ? (secretValue(obj, key) ?? '') : String((obj['data'] as Record<string, string>)[key]);
    }
    if (invalid.length > 0)
      skipped.push({ kind: isSecret ? 'secret' : 'configMap', name: ref.name, keys: invalid.sort() });
  }
  for (const variable of container.env ?? []) {
    const name = String(variable.name);
    if (variable.valueFrom === undefined) {
      env[name] = expandVariables(String(variable.value ?? ''), (n) => env[n]);
      continue;
    }
    const from = variable.valueFrom;
    if (from.fieldRef) env[name] = fieldRefValue(ctx, String(from.fieldRef.fieldPath));
    else if (from.resourceFieldRef) env[name] = resourceFieldValue(ctx, container, from.resourceFieldRef);
    else if (from.configMapKeyRef) {
      const { name: cmName, key, optional } = from.configMapKeyRef;
      const cm = getConfigMap(ctx, cmName);
      if (!cm) {
        if (optional) continue;
        throw new ContainerConfigError(`configmap "${cmName}" not found`);
      }
      const value = ((cm['data'] ?? {}) as Record<string, string>)[key];
      if (value === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in ConfigMap ${namespace}/${cmName}`);
      }
      env[name] = value;
    } else if (from.secretKeyRef) {
      const { name: secretName, key, optional } = from.secretKeyRef;
      const secret = getSecret(ctx, secretName);
      if (!secret) {
        if (optional) continue;
        throw new ContainerConfigError(`secret "${secretName}" not found`);
      }
      const value = secretValue(secret, key);
      if (value === undefined) {
        if (optional) continue;
        throw new ContainerConfigError(`couldn't find key ${key} in Secret ${namespace}/${secretName}`);
      }
      env[name] = value;
    }
  }
  return { env, skipped };
}

/** `command` + `args` with `$(VAR)` expanded against the container's environment. */
export function containerArgv(container: ContainerSpec, env: Record<string, string>): string[] {
  const lookup = (name: string) => env[name];
  return [...(container.command ?? []), ...(container.args ?? [])].map((part) => expandVariables(String(part), lookup));
}

/**
 * The volume manager's check of configMap/secret volumes (also inside projected volumes): the
 * FailedMount message for the first volume that cannot be set up, or undefined when all can.
 */
export function volumeMountFailure(store: ObjectStore, pod: KubeObject): string | undefined {
  const namespace = pod.metadata.namespace;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- core/v1 Volume: open JSON
  const check = (volumeName: string, source: any, kind: 'configmap' | 'secret'): string | undefined => {
    const name = kind === 'configmap' ? source.name : (source.secretName ?? source.name);
    const obj = store.get(kind === 'configmap' ? 'configmaps' : 'secrets', namespace, String(name));
    if (!obj)
      return source.optional
        ? undefined
        : `MountVolume.SetUp failed for volume "${volumeName}" : ${kind} "${name}" not found`;
    const data = {
      ...((obj['data'] ?? {}) as Record<string, string>),
      ...((obj['binaryData'] ?? {}) as Record<string, string>),
    };
    for (const item of (source.items ?? []) as { key: string }[]) {
      if (!(item.key in data) && !source.optional) {
        const detail =
          kind === 'configmap'
            ? `configmap references non-existent config key: ${item.key}`
            : `references non-existent secret key: ${item.key}`;
        return `MountVolume.SetUp failed for volume "${volumeName}" : ${detail}`;
      }
    }
    return undefined;
  };
  for (const volume of (pod.spec?.volumes ?? []) as Record<string, unknown>[]) {
    const name = String(volume['name']);
    const failure =
      (volume['configMap'] ? check(name, volume['configMap'], 'configmap') : undefined) ??
      (volume['secret'] ? check(name, volume['secret'], 'secret') : undefined) ??
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- core/v1 VolumeProjection: open JSON
      (((volume['projected'] as any)?.sources ?? []) as any[])
        .map((s) =>
          s.configMap ? check(name, s.configMap, 'configmap') : s.secret ? check(name, s.secret, 'secret') : undefined,
        )
        .find((f) => f !== undefined);
    if (failure) return failure;
  }
  return undefined;
}
