/*
 * The checks of the Pod Security Standards, one function per check of Kubernetes'
 * pod-security-admission (`policy/check_*.go`), with its ids, reasons and details word for word so
 * that a refusal here reads like the apiserver's. Each check sees the pod as plain JSON (a pod
 * template or a pod, never trusted to be well-typed) and the policy version's minor number.
 */

/** A pod as the checks read it: metadata annotations and the spec, untyped. */
export interface PodLike {
  metadata?: { annotations?: object | undefined } | undefined;
  spec?: object | undefined;
}

/** What one failed check says: the apiserver's reason and detail, and the fields at fault. */
export interface CheckFailure {
  reason: string;
  detail: string;
  /** Dotted paths into the pod (`spec.containers.0.securityContext.privileged`), first the most telling. */
  fields: string[];
}

/** One check: its id (as the apiserver's), its level, the first minor version it applies from. */
export interface PodSecurityCheck {
  id: string;
  level: 'baseline' | 'restricted';
  sinceMinor: number;
  /** Baseline checks this one replaces at the restricted level. */
  overrides?: readonly string[];
  run(pod: CheckedPod, minor: number): CheckFailure | undefined;
}

type Json = Record<string, unknown>;

const record = (value: unknown): Json | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
const records = (value: unknown): Json[] =>
  Array.isArray(value) ? value.map(record).filter((v): v is Json => v !== undefined) : [];
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

interface VisitedContainer {
  name: string;
  /** `spec.containers.0` */
  path: string;
  securityContext: Json | undefined;
  raw: Json;
}

/**
 * A pod as every check reads it, read once per evaluation: most checks visit the containers, and
 * building that list per check was the largest cost of admitting a task (a sixth of what
 * `addTask` allocated).
 */
export interface CheckedPod {
  metadata: PodLike['metadata'];
  spec: Json;
  /** `spec.securityContext`, when it is an object. */
  securityContext: Json | undefined;
  /** `visitContainers`: initContainers, containers, then ephemeralContainers, in order. */
  containers: readonly VisitedContainer[];
}

const containerLists = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** Reads `pod` once for {@link PodSecurityCheck.run}. */
export function checkedPod(pod: PodLike): CheckedPod {
  const spec = record(pod.spec) ?? {};
  const containers: VisitedContainer[] = [];
  for (const list of containerLists) {
    const items = spec[list];
    if (!Array.isArray(items)) continue;
    // An entry that is not an object is no container: it is skipped and not counted.
    let index = 0;
    for (const item of items as unknown[]) {
      const raw = record(item);
      if (!raw) continue;
      containers.push({
        name: text(raw['name']),
        path: `spec.${list}.${index++}`,
        securityContext: record(raw['securityContext']),
        raw,
      });
    }
  }
  return { metadata: pod.metadata, spec, securityContext: record(spec['securityContext']), containers };
}

const annotations = (pod: CheckedPod): Record<string, string> =>
  Object.fromEntries(Object.entries(pod.metadata?.annotations ?? {}).map(([k, v]) => [k, text(v)]));
const isWindows = (pod: CheckedPod): boolean => text(record(pod.spec['os'])?.['name']) === 'windows';

const pluralize = (singular: string, plural: string, count: number): string => (count === 1 ? singular : plural);
const joinQuote = (items: readonly string[]): string => (items.length === 0 ? '' : `"${items.join('", "')}"`);
/** Go's `sets.String.List()`: unique and sorted bytewise. */
const sortedSet = (items: Iterable<string>): string[] =>
  [...new Set(items)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
const containersPhrase = (names: readonly string[]): string =>
  `${pluralize('container', 'containers', names.length)} ${joinQuote(names)}`;

const privileged: PodSecurityCheck = {
  id: 'privileged',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const bad = pod.containers.filter((c) => c.securityContext?.['privileged'] === true);
    if (bad.length === 0) return undefined;
    return {
      reason: 'privileged',
      detail: `${containersPhrase(bad.map((c) => c.name))} must not set securityContext.privileged=true`,
      fields: bad.map((c) => `${c.path}.securityContext.privileged`),
    };
  },
};

const hostNamespaces: PodSecurityCheck = {
  id: 'hostNamespaces',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const set = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((f) => pod.spec[f] === true);
    if (set.length === 0) return undefined;
    return {
      reason: 'host namespaces',
      detail: set.map((f) => `${f}=true`).join(', '),
      fields: set.map((f) => `spec.${f}`),
    };
  },
};

const hostPathVolumes: PodSecurityCheck = {
  id: 'hostPathVolumes',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const volumes = records(pod.spec['volumes']);
    const bad = volumes.flatMap((v, i) => (v['hostPath'] != null ? [{ name: text(v['name']), i }] : []));
    if (bad.length === 0) return undefined;
    return {
      reason: 'hostPath volumes',
      detail: `${pluralize('volume', 'volumes', bad.length)} ${joinQuote(bad.map((v) => v.name))}`,
      fields: bad.map((v) => `spec.volumes.${v.i}.hostPath`),
    };
  },
};

const hostPorts: PodSecurityCheck = {
  id: 'hostPorts',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const badNames: string[] = [];
    const fields: string[] = [];
    const ports = new Set<string>();
    for (const c of pod.containers) {
      let valid = true;
      records(c.raw['ports']).forEach((p, i) => {
        const hostPort = p['hostPort'];
        if (hostPort != null && hostPort !== 0) {
          valid = false;
          ports.add(typeof hostPort === 'number' ? String(hostPort) : JSON.stringify(hostPort));
          fields.push(`${c.path}.ports.${i}.hostPort`);
        }
      });
      if (!valid) badNames.push(c.name);
    }
    if (badNames.length === 0) return undefined;
    const list = sortedSet(ports);
    return {
      reason: 'hostPort',
      detail: `${containersPhrase(badNames)} ${pluralize('uses', 'use', badNames.length)} ${pluralize('hostPort', 'hostPorts', list.length)} ${list.join(', ')}`,
      fields,
    };
  },
};

/** Capabilities a container may add at the baseline level (the container runtimes' defaults). */
export const baselineCapabilities: readonly string[] = [
  'AUDIT_WRITE',
  'CHOWN',
  'DAC_OVERRIDE',
  'FOWNER',
  'FSETID',
  'KILL',
  'MKNOD',
  'NET_BIND_SERVICE',
  'SETFCAP',
  'SETGID',
  'SETPCAP',
  'SETUID',
  'SYS_CHROOT',
];

const addedCapabilities = (c: VisitedContainer): string[] =>
  Array.isArray(record(c.securityContext?.['capabilities'])?.['add'])
    ? (record(c.securityContext?.['capabilities'])?.['add'] as unknown[]).map(text)
    : [];

const capabilitiesBaseline: PodSecurityCheck = {
  id: 'capabilities_baseline',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const badNames: string[] = [];
    const fields: string[] = [];
    const caps = new Set<string>();
    for (const c of pod.containers) {
      const bad = addedCapabilities(c).filter((cap) => !baselineCapabilities.includes(cap));
      if (bad.length === 0) continue;
      bad.forEach((cap) => caps.add(cap));
      badNames.push(c.name);
      fields.push(`${c.path}.securityContext.capabilities.add`);
    }
    if (badNames.length === 0) return undefined;
    return {
      reason: 'non-default capabilities',
      detail: `${containersPhrase(badNames)} must not include ${joinQuote(sortedSet(caps))} in securityContext.capabilities.add`,
      fields,
    };
  },
};

const procMount: PodSecurityCheck = {
  id: 'procMount',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const bad = pod.containers.filter((c) => {
      const value = c.securityContext?.['procMount'];
      return value != null && value !== 'Default';
    });
    if (bad.length === 0) return undefined;
    const types = sortedSet(bad.map((c) => text(c.securityContext?.['procMount'])));
    return {
      reason: 'procMount',
      detail: `${containersPhrase(bad.map((c) => c.name))} must not set securityContext.procMount to ${joinQuote(types)}`,
      fields: bad.map((c) => `${c.path}.securityContext.procMount`),
    };
  },
};

/** Namespaced sysctls the baseline level allows, by the minor version that allowed them. */
const safeSysctls: ReadonlyArray<{ sinceMinor: number; names: readonly string[] }> = [
  {
    sinceMinor: 0,
    names: [
      'kernel.shm_rmid_forced',
      'net.ipv4.ip_local_port_range',
      'net.ipv4.tcp_syncookies',
      'net.ipv4.ping_group_range',
      'net.ipv4.ip_unprivileged_port_start',
    ],
  },
  { sinceMinor: 27, names: ['net.ipv4.ip_local_reserved_ports'] },
  {
    sinceMinor: 29,
    names: [
      'net.ipv4.tcp_keepalive_time',
      'net.ipv4.tcp_fin_timeout',
      'net.ipv4.tcp_keepalive_intvl',
      'net.ipv4.tcp_keepalive_probes',
    ],
  },
];

const sysctls: PodSecurityCheck = {
  id: 'sysctls',
  level: 'baseline',
  sinceMinor: 0,
  run(pod, minor) {
    const sysctlList = records(pod.securityContext?.['sysctls']);
    // Most pods set none: the allowed set is only built for one that does.
    if (sysctlList.length === 0) return undefined;
    const allowed = new Set(safeSysctls.filter((s) => s.sinceMinor <= minor).flatMap((s) => s.names));
    const bad = sysctlList.map((s, i) => ({ name: text(s['name']), i })).filter((s) => !allowed.has(s.name));
    if (bad.length === 0) return undefined;
    return {
      reason: 'forbidden sysctls',
      detail: bad.map((s) => s.name).join(', '),
      fields: bad.map((s) => `spec.securityContext.sysctls.${s.i}.name`),
    };
  },
};

const validSeccompType = (type: unknown): boolean => type === 'RuntimeDefault' || type === 'Localhost';
const seccompPodAnnotation = 'seccomp.security.alpha.kubernetes.io/pod';
const seccompContainerAnnotation = 'container.seccomp.security.alpha.kubernetes.io/';
const validSeccompAnnotation = (v: string): boolean =>
  v === 'runtime/default' || v === 'docker/default' || v.startsWith('localhost/');

/** Before Kubernetes 1.19 seccomp was set by annotations. */
function seccompAnnotations(pod: CheckedPod): CheckFailure | undefined {
  const all = annotations(pod);
  const keys = [seccompPodAnnotation, ...pod.containers.map((c) => seccompContainerAnnotation + c.name)];
  const bad = sortedSet(
    keys.filter((k) => k in all && !validSeccompAnnotation(all[k] ?? '')).map((k) => `${k}=${JSON.stringify(all[k])}`),
  );
  if (bad.length === 0) return undefined;
  return {
    reason: 'seccompProfile',
    detail: `forbidden ${pluralize('annotation', 'annotations', bad.length)} ${bad.join(', ')}`,
    fields: ['metadata.annotations'],
  };
}

/**
 * Explicitly bad seccomp types (`Unconfined`), and the containers that leave the type unset
 * (for the restricted level, which requires one when the pod sets none).
 */
function seccompTypes(pod: CheckedPod) {
  const setters: string[] = [];
  const fields: string[] = [];
  const values = new Set<string>();
  const podProfile = record(pod.securityContext?.['seccompProfile']);
  let podSet = false;
  if (podProfile) {
    if (validSeccompType(podProfile['type'])) podSet = true;
    else {
      setters.push('pod');
      values.add(text(podProfile['type']));
      fields.push('spec.securityContext.seccompProfile.type');
    }
  }
  const explicit: string[] = [];
  const implicit: VisitedContainer[] = [];
  for (const c of pod.containers) {
    const profile = record(c.securityContext?.['seccompProfile']);
    if (profile) {
      if (!validSeccompType(profile['type'])) {
        explicit.push(c.name);
        values.add(text(profile['type']));
        fields.push(`${c.path}.securityContext.seccompProfile.type`);
      }
    } else if (!podSet) implicit.push(c);
  }
  if (explicit.length > 0) setters.push(containersPhrase(explicit));
  const explicitFailure: CheckFailure | undefined =
    setters.length === 0
      ? undefined
      : {
          reason: 'seccompProfile',
          detail: `${setters.join(' and ')} must not set securityContext.seccompProfile.type to ${joinQuote(sortedSet(values))}`,
          fields,
        };
  return { explicitFailure, implicit };
}

const seccompProfileBaseline: PodSecurityCheck = {
  id: 'seccompProfile_baseline',
  level: 'baseline',
  sinceMinor: 0,
  run(pod, minor) {
    return minor < 19 ? seccompAnnotations(pod) : seccompTypes(pod).explicitFailure;
  },
};

const appArmorAnnotationPrefix = 'container.apparmor.security.beta.kubernetes.io/';

const appArmorProfile: PodSecurityCheck = {
  id: 'appArmorProfile',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const allowedType = (t: unknown): boolean => t === 'RuntimeDefault' || t === 'Localhost';
    const setters: string[] = [];
    const fields: string[] = [];
    const values = new Set<string>();
    const podProfile = record(pod.securityContext?.['appArmorProfile']);
    if (podProfile && !allowedType(podProfile['type'])) {
      setters.push('pod');
      values.add(text(podProfile['type']));
      fields.push('spec.securityContext.appArmorProfile.type');
    }
    const bad: string[] = [];
    for (const c of pod.containers) {
      const profile = record(c.securityContext?.['appArmorProfile']);
      if (profile && !allowedType(profile['type'])) {
        bad.push(c.name);
        values.add(text(profile['type']));
        fields.push(`${c.path}.securityContext.appArmorProfile.type`);
      }
    }
    if (bad.length > 0) setters.push(containersPhrase(bad));
    const badAnnotations = Object.entries(annotations(pod))
      .filter(([k]) => k.startsWith(appArmorAnnotationPrefix))
      .filter(([, v]) => !(v === '' || v === 'runtime/default' || v.startsWith('localhost/')))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .sort();
    const valueList = [...sortedSet(values), ...badAnnotations];
    if (badAnnotations.length > 0) {
      setters.push(pluralize('annotation', 'annotations', badAnnotations.length));
      fields.push('metadata.annotations');
    }
    if (setters.length === 0) return undefined;
    return {
      reason: pluralize('forbidden AppArmor profile', 'forbidden AppArmor profiles', valueList.length),
      detail: `${setters.join(' and ')} must not set AppArmor profile type to ${joinQuote(valueList)}`,
      fields,
    };
  },
};

/** The SELinux types the baseline level allows; 1.31 added `container_engine_t`. */
const seLinuxTypes: ReadonlySet<string> = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t']);
const seLinuxTypesSince31: ReadonlySet<string> = new Set([...seLinuxTypes, 'container_engine_t']);

const seLinuxOptions: PodSecurityCheck = {
  id: 'seLinuxOptions',
  level: 'baseline',
  sinceMinor: 0,
  run(pod, minor) {
    const allowedTypes = minor >= 31 ? seLinuxTypesSince31 : seLinuxTypes;
    const badTypes = new Set<string>();
    let setUser = false;
    let setRole = false;
    const valid = (opts: Json): boolean => {
      let ok = true;
      const type = text(opts['type']);
      if (!allowedTypes.has(type)) {
        ok = false;
        badTypes.add(type);
      }
      if (text(opts['user']).length > 0) {
        ok = false;
        setUser = true;
      }
      if (text(opts['role']).length > 0) {
        ok = false;
        setRole = true;
      }
      return ok;
    };
    const setters: string[] = [];
    const fields: string[] = [];
    const podOptions = record(pod.securityContext?.['seLinuxOptions']);
    if (podOptions && !valid(podOptions)) {
      setters.push('pod');
      fields.push('spec.securityContext.seLinuxOptions');
    }
    const bad: string[] = [];
    for (const c of pod.containers) {
      const options = record(c.securityContext?.['seLinuxOptions']);
      if (options && !valid(options)) {
        bad.push(c.name);
        fields.push(`${c.path}.securityContext.seLinuxOptions`);
      }
    }
    if (bad.length > 0) setters.push(containersPhrase(bad));
    if (setters.length === 0) return undefined;
    const data: string[] = [];
    const types = sortedSet(badTypes);
    if (types.length > 0) data.push(`${pluralize('type', 'types', types.length)} ${joinQuote(types)}`);
    if (setUser) data.push('user may not be set');
    if (setRole) data.push('role may not be set');
    return {
      reason: 'seLinuxOptions',
      detail: `${setters.join(' and ')} set forbidden securityContext.seLinuxOptions: ${data.join('; ')}`,
      fields,
    };
  },
};

const windowsHostProcess: PodSecurityCheck = {
  id: 'windowsHostProcess',
  level: 'baseline',
  sinceMinor: 0,
  run(pod) {
    const hostProcess = (ctx: Json | undefined): boolean => record(ctx?.['windowsOptions'])?.['hostProcess'] === true;
    const setters: string[] = [];
    const fields: string[] = [];
    if (hostProcess(pod.securityContext)) {
      setters.push('pod');
      fields.push('spec.securityContext.windowsOptions.hostProcess');
    }
    const bad = pod.containers.filter((c) => hostProcess(c.securityContext));
    if (bad.length > 0) setters.push(containersPhrase(bad.map((c) => c.name)));
    fields.push(...bad.map((c) => `${c.path}.securityContext.windowsOptions.hostProcess`));
    if (setters.length === 0) return undefined;
    return {
      reason: 'hostProcess',
      detail: `${setters.join(' and ')} must not set securityContext.windowsOptions.hostProcess=true`,
      fields,
    };
  },
};

const allowPrivilegeEscalation: PodSecurityCheck = {
  id: 'allowPrivilegeEscalation',
  level: 'restricted',
  sinceMinor: 8,
  run(pod, minor) {
    if (minor >= 25 && isWindows(pod)) return undefined;
    const bad = pod.containers.filter((c) => c.securityContext?.['allowPrivilegeEscalation'] !== false);
    if (bad.length === 0) return undefined;
    return {
      reason: 'allowPrivilegeEscalation != false',
      detail: `${containersPhrase(bad.map((c) => c.name))} must set securityContext.allowPrivilegeEscalation=false`,
      fields: bad.map((c) => `${c.path}.securityContext.allowPrivilegeEscalation`),
    };
  },
};

const capabilitiesRestricted: PodSecurityCheck = {
  id: 'capabilities_restricted',
  level: 'restricted',
  sinceMinor: 22,
  overrides: ['capabilities_baseline'],
  run(pod, minor) {
    if (minor >= 25 && isWindows(pod)) return undefined;
    const missingDropAll: string[] = [];
    const adding: string[] = [];
    const fields: string[] = [];
    const forbidden = new Set<string>();
    for (const c of pod.containers) {
      const caps = record(c.securityContext?.['capabilities']);
      const drop = Array.isArray(caps?.['drop']) ? (caps['drop'] as unknown[]) : [];
      if (!drop.includes('ALL')) {
        missingDropAll.push(c.name);
        fields.push(`${c.path}.securityContext.capabilities.drop`);
      }
      const bad = addedCapabilities(c).filter((cap) => cap !== 'NET_BIND_SERVICE');
      if (bad.length > 0) {
        adding.push(c.name);
        bad.forEach((cap) => forbidden.add(cap));
        fields.push(`${c.path}.securityContext.capabilities.add`);
      }
    }
    const details: string[] = [];
    if (missingDropAll.length > 0)
      details.push(`${containersPhrase(missingDropAll)} must set securityContext.capabilities.drop=["ALL"]`);
    if (adding.length > 0)
      details.push(
        `${containersPhrase(adding)} must not include ${joinQuote(sortedSet(forbidden))} in securityContext.capabilities.add`,
      );
    if (details.length === 0) return undefined;
    return { reason: 'unrestricted capabilities', detail: details.join('; '), fields };
  },
};

/** Volume types the restricted level allows. */
export const restrictedVolumeTypes: readonly string[] = [
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
];

/** The volume source fields the apiserver names when it refuses them, in its order. */
const namedVolumeTypes = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'gitRepo',
  'nfs',
  'iscsi',
  'glusterfs',
  'rbd',
  'flexVolume',
  'cinder',
  'cephfs',
  'flocker',
  'fc',
  'azureFile',
  'vsphereVolume',
  'quobyte',
  'azureDisk',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];

const restrictedVolumes: PodSecurityCheck = {
  id: 'restrictedVolumes',
  level: 'restricted',
  sinceMinor: 0,
  overrides: ['hostPathVolumes'],
  run(pod) {
    const badNames: string[] = [];
    const fields: string[] = [];
    const types = new Set<string>();
    records(pod.spec['volumes']).forEach((v, i) => {
      if (restrictedVolumeTypes.some((t) => v[t] != null)) return;
      badNames.push(text(v['name']));
      const type = namedVolumeTypes.find((t) => v[t] != null);
      types.add(type ?? 'unknown');
      fields.push(type ? `spec.volumes.${i}.${type}` : `spec.volumes.${i}`);
    });
    if (badNames.length === 0) return undefined;
    const list = sortedSet(types);
    return {
      reason: 'restricted volume types',
      detail: `${pluralize('volume', 'volumes', badNames.length)} ${joinQuote(badNames)} ${pluralize('uses', 'use', badNames.length)} ${pluralize('restricted volume type', 'restricted volume types', list.length)} ${joinQuote(list)}`,
      fields,
    };
  },
};

const runAsNonRoot: PodSecurityCheck = {
  id: 'runAsNonRoot',
  level: 'restricted',
  sinceMinor: 0,
  run(pod) {
    const setters: string[] = [];
    const fields: string[] = [];
    const podValue = pod.securityContext?.['runAsNonRoot'];
    if (podValue === false) {
      setters.push('pod');
      fields.push('spec.securityContext.runAsNonRoot');
    }
    const podNonRoot = podValue === true;
    const explicit: string[] = [];
    const implicit: string[] = [];
    for (const c of pod.containers) {
      const value = c.securityContext?.['runAsNonRoot'];
      if (value != null) {
        if (value !== true) {
          explicit.push(c.name);
          fields.push(`${c.path}.securityContext.runAsNonRoot`);
        }
      } else if (!podNonRoot) implicit.push(c.name);
    }
    if (explicit.length > 0) setters.push(containersPhrase(explicit));
    if (setters.length > 0)
      return {
        reason: 'runAsNonRoot != true',
        detail: `${setters.join(' and ')} must not set securityContext.runAsNonRoot=false`,
        fields,
      };
    if (implicit.length === 0) return undefined;
    return {
      reason: 'runAsNonRoot != true',
      detail: `pod or ${containersPhrase(implicit)} must set securityContext.runAsNonRoot=true`,
      fields: ['spec.securityContext.runAsNonRoot'],
    };
  },
};

const runAsUser: PodSecurityCheck = {
  id: 'runAsUser',
  level: 'restricted',
  sinceMinor: 23,
  run(pod) {
    const setters: string[] = [];
    const fields: string[] = [];
    if (pod.securityContext?.['runAsUser'] === 0) {
      setters.push('pod');
      fields.push('spec.securityContext.runAsUser');
    }
    const bad = pod.containers.filter((c) => c.securityContext?.['runAsUser'] === 0);
    if (bad.length > 0) setters.push(containersPhrase(bad.map((c) => c.name)));
    fields.push(...bad.map((c) => `${c.path}.securityContext.runAsUser`));
    if (setters.length === 0) return undefined;
    return { reason: 'runAsUser=0', detail: `${setters.join(' and ')} must not set runAsUser=0`, fields };
  },
};

const seccompProfileRestricted: PodSecurityCheck = {
  id: 'seccompProfile_restricted',
  level: 'restricted',
  sinceMinor: 19,
  overrides: ['seccompProfile_baseline'],
  run(pod, minor) {
    if (minor >= 25 && isWindows(pod)) return undefined;
    const { explicitFailure, implicit } = seccompTypes(pod);
    if (explicitFailure) return explicitFailure;
    if (implicit.length === 0) return undefined;
    return {
      reason: 'seccompProfile',
      detail: `pod or ${containersPhrase(implicit.map((c) => c.name))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      fields: ['spec.securityContext.seccompProfile.type'],
    };
  },
};

/**
 * Every check, in the apiserver's order: baseline ids sorted bytewise, then restricted ids sorted
 * bytewise (its error messages list failures in this order).
 */
export const podSecurityChecks: readonly PodSecurityCheck[] = [
  appArmorProfile,
  capabilitiesBaseline,
  hostNamespaces,
  hostPathVolumes,
  hostPorts,
  privileged,
  procMount,
  seLinuxOptions,
  seccompProfileBaseline,
  sysctls,
  windowsHostProcess,
  allowPrivilegeEscalation,
  capabilitiesRestricted,
  restrictedVolumes,
  runAsNonRoot,
  runAsUser,
  seccompProfileRestricted,
];
