import { describe, expect, test } from 'vitest';
import {
  checkPodSecurity,
  formatPodSecurityViolations,
  type PodSecurityLevel,
  type PodSecurityViolation,
} from '../../src/validation/pod-security.js';

/*
 * The Pod Security Standards checker, rule by rule: for each check one pod that passes and one
 * that fails with the apiserver's reason and detail (kubernetes/pod-security-admission
 * policy/check_*.go, v1.31) and the offending field's path.
 */

type Json = Record<string, unknown>;

/** A container that meets the restricted level, with `securityContext` fields overridden. */
const hardened = (name = 'main', securityContext: Json = {}, extra: Json = {}): Json => ({
  name,
  image: 'busybox',
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
    ...securityContext,
  },
  ...extra,
});
const plain = (name = 'main', extra: Json = {}): Json => ({ name, image: 'busybox', ...extra });
const pod = (spec: Json, annotations?: Record<string, string>) => ({
  metadata: annotations ? { annotations } : {},
  spec: { restartPolicy: 'Never', ...spec },
});

interface Case {
  check: string;
  level: Exclude<PodSecurityLevel, 'privileged'>;
  passes: ReturnType<typeof pod>;
  fails: ReturnType<typeof pod>;
  reason: string;
  detail: string;
  fields: string[];
}

/** Baseline cases use plain containers (baseline asks nothing of them); restricted ones hardened containers. */
const cases: Case[] = [
  {
    check: 'privileged',
    level: 'baseline',
    passes: pod({ containers: [plain('main', { securityContext: { privileged: false } })] }),
    fails: pod({ containers: [plain('main', { securityContext: { privileged: true } })] }),
    reason: 'privileged',
    detail: 'container "main" must not set securityContext.privileged=true',
    fields: ['spec.containers.0.securityContext.privileged'],
  },
  {
    check: 'hostNamespaces',
    level: 'baseline',
    passes: pod({ hostNetwork: false, containers: [plain()] }),
    fails: pod({ hostNetwork: true, hostPID: true, hostIPC: true, containers: [plain()] }),
    reason: 'host namespaces',
    detail: 'hostNetwork=true, hostPID=true, hostIPC=true',
    fields: ['spec.hostNetwork', 'spec.hostPID', 'spec.hostIPC'],
  },
  {
    check: 'hostPathVolumes',
    level: 'baseline',
    passes: pod({ containers: [plain()], volumes: [{ name: 'scratch', emptyDir: {} }] }),
    fails: pod({ containers: [plain()], volumes: [{ name: 'root', hostPath: { path: '/' } }] }),
    reason: 'hostPath volumes',
    detail: 'volume "root"',
    fields: ['spec.volumes.0.hostPath'],
  },
  {
    check: 'hostPorts',
    level: 'baseline',
    passes: pod({ containers: [plain('main', { ports: [{ containerPort: 8080 }] })] }),
    fails: pod({
      containers: [plain('a', { ports: [{ containerPort: 80, hostPort: 8080 }] }), plain('b')],
      initContainers: [plain('init', { ports: [{ containerPort: 90, hostPort: 9090 }] })],
    }),
    reason: 'hostPort',
    detail: 'containers "init", "a" use hostPorts 8080, 9090',
    fields: ['spec.initContainers.0.ports.0.hostPort', 'spec.containers.0.ports.0.hostPort'],
  },
  {
    check: 'capabilities_baseline',
    level: 'baseline',
    passes: pod({
      containers: [plain('main', { securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'CHOWN'] } } })],
    }),
    fails: pod({
      containers: [plain('main', { securityContext: { capabilities: { add: ['SYS_ADMIN', 'NET_ADMIN', 'KILL'] } } })],
    }),
    reason: 'non-default capabilities',
    detail: 'container "main" must not include "NET_ADMIN", "SYS_ADMIN" in securityContext.capabilities.add',
    fields: ['spec.containers.0.securityContext.capabilities.add'],
  },
  {
    check: 'procMount',
    level: 'baseline',
    passes: pod({ containers: [plain('main', { securityContext: { procMount: 'Default' } })] }),
    fails: pod({ containers: [plain('main', { securityContext: { procMount: 'Unmasked' } })] }),
    reason: 'procMount',
    detail: 'container "main" must not set securityContext.procMount to "Unmasked"',
    fields: ['spec.containers.0.securityContext.procMount'],
  },
  {
    check: 'sysctls',
    level: 'baseline',
    passes: pod({
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_keepalive_time', value: '60' }] },
      containers: [plain()],
    }),
    fails: pod({
      securityContext: {
        sysctls: [
          { name: 'kernel.shm_rmid_forced', value: '1' },
          { name: 'kernel.msgmax', value: '1' },
          { name: 'net.core.somaxconn', value: '1024' },
        ],
      },
      containers: [plain()],
    }),
    reason: 'forbidden sysctls',
    detail: 'kernel.msgmax, net.core.somaxconn',
    fields: ['spec.securityContext.sysctls.1.name', 'spec.securityContext.sysctls.2.name'],
  },
  {
    check: 'seccompProfile_baseline',
    level: 'baseline',
    passes: pod({ securityContext: { seccompProfile: { type: 'RuntimeDefault' } }, containers: [plain()] }),
    fails: pod({
      securityContext: { seccompProfile: { type: 'Unconfined' } },
      containers: [plain('main', { securityContext: { seccompProfile: { type: 'Unconfined' } } })],
    }),
    reason: 'seccompProfile',
    detail: 'pod and container "main" must not set securityContext.seccompProfile.type to "Unconfined"',
    fields: ['spec.securityContext.seccompProfile.type', 'spec.containers.0.securityContext.seccompProfile.type'],
  },
  {
    check: 'appArmorProfile',
    level: 'baseline',
    passes: pod({ containers: [plain('main', { securityContext: { appArmorProfile: { type: 'RuntimeDefault' } } })] }),
    fails: pod(
      { containers: [plain('main', { securityContext: { appArmorProfile: { type: 'Unconfined' } } })] },
      {
        'container.apparmor.security.beta.kubernetes.io/main': 'unconfined',
      },
    ),
    reason: 'forbidden AppArmor profiles',
    detail:
      'container "main" and annotation must not set AppArmor profile type to ' +
      // joinQuote quotes without escaping, as the Go code does.
      '"Unconfined", "container.apparmor.security.beta.kubernetes.io/main="unconfined""',
    fields: ['spec.containers.0.securityContext.appArmorProfile.type', 'metadata.annotations'],
  },
  {
    check: 'seLinuxOptions',
    level: 'baseline',
    passes: pod({
      containers: [plain('main', { securityContext: { seLinuxOptions: { type: 'container_engine_t' } } })],
    }),
    fails: pod({
      securityContext: { seLinuxOptions: { type: 'spc_t' } },
      containers: [plain('main', { securityContext: { seLinuxOptions: { user: 'root', role: 'sysadm_r' } } })],
    }),
    reason: 'seLinuxOptions',
    detail:
      'pod and container "main" set forbidden securityContext.seLinuxOptions: type "spc_t"; ' +
      'user may not be set; role may not be set',
    fields: ['spec.securityContext.seLinuxOptions', 'spec.containers.0.securityContext.seLinuxOptions'],
  },
  {
    check: 'windowsHostProcess',
    level: 'baseline',
    passes: pod({ containers: [plain('main', { securityContext: { windowsOptions: { hostProcess: false } } })] }),
    fails: pod({
      securityContext: { windowsOptions: { hostProcess: true } },
      containers: [plain('main', { securityContext: { windowsOptions: { hostProcess: true } } })],
    }),
    reason: 'hostProcess',
    detail: 'pod and container "main" must not set securityContext.windowsOptions.hostProcess=true',
    fields: [
      'spec.securityContext.windowsOptions.hostProcess',
      'spec.containers.0.securityContext.windowsOptions.hostProcess',
    ],
  },
  {
    check: 'allowPrivilegeEscalation',
    level: 'restricted',
    passes: pod({ containers: [hardened()] }),
    fails: pod({
      containers: [hardened('main', { allowPrivilegeEscalation: true })],
      ephemeralContainers: [hardened('debug', { allowPrivilegeEscalation: undefined })],
    }),
    reason: 'allowPrivilegeEscalation != false',
    detail: 'containers "main", "debug" must set securityContext.allowPrivilegeEscalation=false',
    fields: [
      'spec.containers.0.securityContext.allowPrivilegeEscalation',
      'spec.ephemeralContainers.0.securityContext.allowPrivilegeEscalation',
    ],
  },
  {
    check: 'capabilities_restricted',
    level: 'restricted',
    passes: pod({ containers: [hardened('main', { capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } })] }),
    fails: pod({ containers: [hardened('main', { capabilities: { drop: ['NET_RAW'], add: ['CHOWN'] } })] }),
    reason: 'unrestricted capabilities',
    detail:
      'container "main" must set securityContext.capabilities.drop=["ALL"]; ' +
      'container "main" must not include "CHOWN" in securityContext.capabilities.add',
    fields: [
      'spec.containers.0.securityContext.capabilities.drop',
      'spec.containers.0.securityContext.capabilities.add',
    ],
  },
  {
    check: 'restrictedVolumes',
    level: 'restricted',
    passes: pod({
      containers: [hardened()],
      volumes: [
        { name: 'cm', configMap: { name: 'x' } },
        { name: 'tmp', emptyDir: {} },
        { name: 'data', persistentVolumeClaim: { claimName: 'x' } },
      ],
    }),
    fails: pod({
      containers: [hardened()],
      volumes: [
        { name: 'tmp', emptyDir: {} },
        { name: 'root', hostPath: { path: '/' } },
        { name: 'share', nfs: { server: 'nfs', path: '/' } },
      ],
    }),
    reason: 'restricted volume types',
    detail: 'volumes "root", "share" use restricted volume types "hostPath", "nfs"',
    fields: ['spec.volumes.1.hostPath', 'spec.volumes.2.nfs'],
  },
  {
    check: 'runAsNonRoot',
    level: 'restricted',
    passes: pod({
      securityContext: { runAsNonRoot: true },
      containers: [hardened('main', { runAsNonRoot: undefined })],
    }),
    fails: pod({ containers: [hardened('main', { runAsNonRoot: undefined })] }),
    reason: 'runAsNonRoot != true',
    detail: 'pod or container "main" must set securityContext.runAsNonRoot=true',
    fields: ['spec.securityContext.runAsNonRoot'],
  },
  {
    check: 'runAsUser',
    level: 'restricted',
    passes: pod({ securityContext: { runAsUser: 1000 }, containers: [hardened()] }),
    fails: pod({ securityContext: { runAsUser: 0 }, containers: [hardened()] }),
    reason: 'runAsUser=0',
    detail: 'pod must not set runAsUser=0',
    fields: ['spec.securityContext.runAsUser'],
  },
  {
    check: 'seccompProfile_restricted',
    level: 'restricted',
    passes: pod({
      securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } },
      containers: [hardened('main', { seccompProfile: undefined })],
    }),
    fails: pod({ containers: [hardened('main', { seccompProfile: undefined })] }),
    reason: 'seccompProfile',
    detail: 'pod or container "main" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
    fields: ['spec.securityContext.seccompProfile.type'],
  },
];

/** JSON has no `undefined`: drop the keys the cases unset, as a decoded pod would not have them. */
const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

describe('checkPodSecurity: every rule, one pod that passes and one that fails', () => {
  test.each(cases)('$check ($level)', ({ check, level, passes, fails, reason, detail, fields }) => {
    expect(checkPodSecurity(asJson(passes), { level })).toEqual([]);
    expect(checkPodSecurity(asJson(fails), { level })).toEqual([{ check, reason, detail, fields }]);
    // Nothing is checked at privileged.
    expect(checkPodSecurity(asJson(fails), { level: 'privileged' })).toEqual([]);
  });

  test('every check of the standard has a case', () => {
    expect(cases.map((c) => c.check).sort()).toEqual(
      [
        'allowPrivilegeEscalation',
        'appArmorProfile',
        'capabilities_baseline',
        'capabilities_restricted',
        'hostNamespaces',
        'hostPathVolumes',
        'hostPorts',
        'privileged',
        'procMount',
        'restrictedVolumes',
        'runAsNonRoot',
        'runAsUser',
        'seLinuxOptions',
        'seccompProfile_baseline',
        'seccompProfile_restricted',
        'sysctls',
        'windowsHostProcess',
      ].sort(),
    );
  });
});

describe('checkPodSecurity: levels and versions', () => {
  const restrictedOnly = cases.filter((c) => c.level === 'restricted');

  test('baseline asks nothing of what only restricted forbids (a hostPath volume is refused by both)', () => {
    for (const c of restrictedOnly) {
      const baseline = checkPodSecurity(asJson(c.fails), { level: 'baseline' }).map((v) => v.check);
      expect(baseline).toEqual(c.check === 'restrictedVolumes' ? ['hostPathVolumes'] : []);
    }
  });

  test('restricted runs the baseline checks it does not replace, then its own, in the apiserver order', () => {
    const everything = pod({
      hostNetwork: true,
      containers: [plain('browser', { securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } } })],
      volumes: [{ name: 'root', hostPath: { path: '/' } }],
    });
    const found = checkPodSecurity(everything, { level: 'restricted' });
    expect(found.map((v) => v.check)).toEqual([
      'hostNamespaces',
      'privileged',
      'allowPrivilegeEscalation',
      'capabilities_restricted',
      'restrictedVolumes',
      'runAsNonRoot',
      'seccompProfile_restricted',
    ]);
    expect(checkPodSecurity(everything, { level: 'baseline' }).map((v) => v.check)).toEqual([
      'capabilities_baseline',
      'hostNamespaces',
      'hostPathVolumes',
      'privileged',
    ]);
  });

  test('the joined message reads as the apiserver writes it (an error seen from a real cluster)', () => {
    const found = checkPodSecurity(pod({ containers: [plain('browser')] }), { level: 'restricted' });
    expect(formatPodSecurityViolations(found)).toBe(
      'allowPrivilegeEscalation != false (container "browser" must set securityContext.allowPrivilegeEscalation=false), ' +
        'unrestricted capabilities (container "browser" must set securityContext.capabilities.drop=["ALL"]), ' +
        'runAsNonRoot != true (pod or container "browser" must set securityContext.runAsNonRoot=true), ' +
        'seccompProfile (pod or container "browser" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")',
    );
  });

  test('older versions apply the rules of their time; newer ones and latest the newest known (1.31)', () => {
    const keepalive = pod({
      securityContext: { sysctls: [{ name: 'net.ipv4.tcp_keepalive_time', value: '60' }] },
      containers: [plain()],
    });
    expect(checkPodSecurity(keepalive, { level: 'baseline', version: 'v1.28' }).map((v) => v.detail)).toEqual([
      'net.ipv4.tcp_keepalive_time',
    ]);
    expect(checkPodSecurity(keepalive, { level: 'baseline', version: 'v1.29' })).toEqual([]);
    const engine = pod({
      containers: [plain('c', { securityContext: { seLinuxOptions: { type: 'container_engine_t' } } })],
    });
    expect(checkPodSecurity(engine, { level: 'baseline', version: 'v1.30' })).toHaveLength(1);
    expect(checkPodSecurity(engine, { level: 'baseline', version: 'v1.31' })).toEqual([]);
    expect(checkPodSecurity(engine, { level: 'baseline', version: 'v1.40' })).toEqual([]);
    // runAsUser is checked from 1.23, capabilities_restricted from 1.22 (before it, capabilities_baseline).
    const root = pod({
      securityContext: { runAsUser: 0 },
      containers: [hardened('c', { capabilities: { add: ['SYS_ADMIN'] } })],
    });
    const checks = (version: string) =>
      checkPodSecurity(root, { level: 'restricted', version }).map((v: PodSecurityViolation) => v.check);
    expect(checks('latest')).toEqual(['capabilities_restricted', 'runAsUser']);
    expect(checks('v1.21')).toEqual(['capabilities_baseline']);
  });

  test('a Windows pod is exempt from the Linux-only restricted rules (from 1.25)', () => {
    const windows = pod({ os: { name: 'windows' }, securityContext: { runAsNonRoot: true }, containers: [plain()] });
    expect(checkPodSecurity(windows, { level: 'restricted' })).toEqual([]);
    expect(checkPodSecurity(windows, { level: 'restricted', version: 'v1.24' }).map((v) => v.check)).toEqual([
      'allowPrivilegeEscalation',
      'capabilities_restricted',
      'seccompProfile_restricted',
    ]);
  });

  test('ill-typed input is read as the apiserver would decode it, never thrown on', () => {
    const odd = { spec: { containers: 'nope', volumes: [null, 3], securityContext: 'x' } };
    expect(checkPodSecurity(odd, { level: 'restricted' })).toEqual([]);
    expect(checkPodSecurity({}, { level: 'baseline' })).toEqual([]);
  });
});
