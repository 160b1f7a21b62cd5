import type { KubeObject } from './types.js';

/**
 * The scheduler's NodeAffinity filter for one node: `spec.nodeSelector` and the required node
 * affinity terms (ORed terms of ANDed `matchExpressions` / `matchFields`).
 */

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** `kubernetes.io/arch` as Go names the host's architecture. */
export function goArch(arch: string = process.arch): string {
  return (
    (
      { x64: 'amd64', ia32: '386', arm: 'arm', arm64: 'arm64', ppc64: 'ppc64le', s390x: 's390x' } as Record<
        string,
        string
      >
    )[arch] ?? arch
  );
}

/** The well-known labels the kubelet puts on its Node. */
export function defaultNodeLabels(nodeName: string): Record<string, string> {
  const arch = goArch();
  return {
    'beta.kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': arch,
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': 'linux',
  };
}

function matches(requirement: Requirement, value: string | undefined): boolean {
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const have = Number(value);
      const want = Number(values[0]);
      if (value === undefined || !Number.isInteger(have) || !Number.isInteger(want)) return false;
      return requirement.operator === 'Gt' ? have > want : have < want;
    }
    default:
      return false;
  }
}

/** Whether `pod` may run on the node `nodeName` with `labels`. */
export function podMatchesNode(pod: KubeObject, nodeName: string, labels: Record<string, string>): boolean {
  const selector = (pod.spec?.nodeSelector ?? {}) as Record<string, string>;
  if (Object.entries(selector).some(([key, value]) => labels[key] !== value)) return false;
  const terms = (pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
    []) as {
    matchExpressions?: Requirement[];
    matchFields?: Requirement[];
  }[];
  if (terms.length === 0) return true;
  return terms.some((term) => {
    const expressions = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    // A term with no requirements matches no node.
    if (expressions.length === 0 && fields.length === 0) return false;
    return (
      expressions.every((r) => matches(r, labels[r.key])) &&
      fields.every((r) => matches(r, r.key === 'metadata.name' ? nodeName : undefined))
    );
  });
}
