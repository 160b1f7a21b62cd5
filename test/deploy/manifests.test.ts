import { readFile } from 'node:fs/promises';
import {
  BatchV1Api,
  type V1Deployment,
  type V1PersistentVolumeClaim,
  type V1PodDisruptionBudget,
  type V1Role,
  type V1RoleBinding,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
// The generated model serializer (not re-exported at the root): it knows every field of every kind.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';
import { parseAllDocuments } from 'yaml';
import { describe, expect, test } from 'vitest';
import { defaultLeaseName } from '../../src/cli/status-command.js';
import { startSimulatedCluster } from '../../src/sim/index.js';

/*
 * deploy/*.yaml are valid Kubernetes objects: each document parses, has only fields its kind
 * has (a round trip through client-node's generated models drops unknown or misspelled fields,
 * so it must give the document back unchanged), and the objects fit together. The pod templates
 * are also created, in a Job, on the simulated cluster; the PodDisruptionBudget is checked only
 * statically (the simulated cluster does not serve policy/v1).
 */

const modelOf: Record<string, string> = {
  'v1/ServiceAccount': 'V1ServiceAccount',
  'rbac.authorization.k8s.io/v1/Role': 'V1Role',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'V1RoleBinding',
  'v1/PersistentVolumeClaim': 'V1PersistentVolumeClaim',
  'apps/v1/Deployment': 'V1Deployment',
  'policy/v1/PodDisruptionBudget': 'V1PodDisruptionBudget',
};

const manifestText = (name: string): Promise<string> =>
  readFile(new URL(`../../deploy/${name}`, import.meta.url), 'utf8');

async function loadManifest(name: string): Promise<unknown[]> {
  const text = await manifestText(name);
  return parseAllDocuments(text).map((document) => {
    expect(document.errors).toEqual([]);
    return document.toJS() as unknown;
  });
}

/** The Deployment's pod template, in a Job, is accepted by the simulated API server (strict field validation). */
async function expectTemplateAccepted(deployment: V1Deployment): Promise<void> {
  const cluster = await startSimulatedCluster({ timeScale: 0.01, kubelet: { runtime: 'scripted' } });
  try {
    const template = deployment.spec!.template;
    const created = await cluster.kubeConfig.makeApiClient(BatchV1Api).createNamespacedJob({
      namespace: 'default',
      fieldValidation: 'Strict',
      body: {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: 'template-check' },
        spec: { template: { ...template, spec: { ...template.spec!, restartPolicy: 'Never' } } },
      },
    });
    expect(created.spec?.template.spec?.containers[0]?.securityContext?.readOnlyRootFilesystem).toBe(true);
  } finally {
    await cluster.close();
  }
}

function expectOnlyKnownFields(document: unknown): void {
  const { apiVersion, kind } = document as { apiVersion?: unknown; kind?: unknown };
  const model = modelOf[`${String(apiVersion)}/${String(kind)}`];
  expect(model, `a known kind: ${String(apiVersion)} ${String(kind)}`).toBeDefined();
  expect(ObjectSerializer.serialize(ObjectSerializer.deserialize(document, model!, ''), model!, '')).toEqual(document);
}

describe('deploy/rbac.yaml', () => {
  test('is a ServiceAccount, a Role and a RoleBinding of that Role to that account, with only known fields, in one namespace', async () => {
    const objects = await loadManifest('rbac.yaml');
    expect(objects.map((o) => (o as { kind?: unknown }).kind)).toEqual(['ServiceAccount', 'Role', 'RoleBinding']);
    objects.forEach(expectOnlyKnownFields);
    const [account, role, binding] = objects as [V1ServiceAccount, V1Role, V1RoleBinding];
    const namespace = account.metadata?.namespace;
    expect(role.metadata?.namespace).toBe(namespace);
    expect(binding.metadata?.namespace).toBe(namespace);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: account.metadata?.name, namespace }]);
    // Nothing broader than needed: no wildcards, only these resources, names only on the Lease's get and update.
    for (const rule of role.rules ?? []) {
      expect([...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])]).not.toContain('*');
      if (rule.resources?.includes('leases') && !rule.verbs.includes('create'))
        expect(rule.resourceNames).toEqual(['k8s-jobs']);
      else expect(rule.resourceNames).toBeUndefined();
    }
    expect((role.rules ?? []).flatMap((r) => r.resources ?? []).sort()).toEqual([
      'events',
      'jobs',
      'leases',
      'leases',
      'pods',
      'pods/log',
    ]);
  });
});

describe('deploy/example-deployment.yaml', () => {
  test('is a PersistentVolumeClaim and a one-replica Recreate Deployment with only known fields, run as the k8s-jobs service account', async () => {
    const objects = await loadManifest('example-deployment.yaml');
    expect(objects.map((o) => (o as { kind?: unknown }).kind)).toEqual(['PersistentVolumeClaim', 'Deployment']);
    objects.forEach(expectOnlyKnownFields);
    const [claim, deployment] = objects as [V1PersistentVolumeClaim, V1Deployment];
    const [account] = (await loadManifest('rbac.yaml')) as [V1ServiceAccount];
    const spec = deployment.spec!;
    const pod = spec.template.spec!;
    expect(deployment.metadata?.namespace).toBe(account.metadata?.namespace);
    expect(claim.metadata?.namespace).toBe(account.metadata?.namespace);
    // One runner per store file: never two pods at once.
    expect(spec.replicas).toBe(1);
    expect(spec.strategy).toEqual({ type: 'Recreate' });
    expect(spec.selector.matchLabels).toEqual(expect.objectContaining(spec.template.metadata?.labels ?? {}));
    expect(pod.serviceAccountName).toBe(account.metadata?.name);
    expect(claim.spec?.accessModes).toEqual(['ReadWriteOnce']);
    expect(pod.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName).toBe(
      claim.metadata?.name,
    );
    const [container] = pod.containers;
    expect(container?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'metadata.namespace',
    );
    const store = container?.env?.find((e) => e.name === 'K8S_JOBS_STORE')?.value ?? '';
    const storeMount = container?.volumeMounts?.find((m) => store.startsWith(`${m.mountPath}/`));
    expect(pod.volumes?.find((v) => v.name === storeMount?.name)?.persistentVolumeClaim).toBeDefined();
    for (const mount of container?.volumeMounts ?? []) expect(pod.volumes?.map((v) => v.name)).toContain(mount.name);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(container?.resources?.requests).toBeDefined();
  });

  test('its pod template is a pod template the API server accepts (in a Job, on the simulated cluster)', async () => {
    const [, deployment] = (await loadManifest('example-deployment.yaml')) as [V1PersistentVolumeClaim, V1Deployment];
    await expectTemplateAccepted(deployment);
  });
});

describe('deploy/ha-deployment.yaml', () => {
  test('is a 3-replica RollingUpdate Deployment and a PodDisruptionBudget over its pods, with only known fields', async () => {
    const objects = await loadManifest('ha-deployment.yaml');
    expect(objects.map((o) => (o as { kind?: unknown }).kind)).toEqual(['Deployment', 'PodDisruptionBudget']);
    objects.forEach(expectOnlyKnownFields);
    const [deployment, budget] = objects as [V1Deployment, V1PodDisruptionBudget];
    const [account] = (await loadManifest('rbac.yaml')) as [V1ServiceAccount];
    const spec = deployment.spec!;
    const pod = spec.template.spec!;
    expect(deployment.metadata?.namespace).toBe(account.metadata?.namespace);
    expect(budget.metadata?.namespace).toBe(account.metadata?.namespace);
    expect(spec.replicas).toBe(3);
    // A new pod is ready before an old one stops: the shared store lets them overlap.
    expect(spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } });
    expect(spec.selector.matchLabels).toEqual(expect.objectContaining(spec.template.metadata?.labels ?? {}));
    expect(pod.serviceAccountName).toBe(account.metadata?.name);
    // Nothing of its own to keep: no claim, the records are in PostgreSQL.
    expect(pod.volumes ?? []).toEqual([]);
    // The budget covers exactly these pods, and leaves two of the three up during an eviction.
    expect(budget.spec?.selector).toEqual(spec.selector);
    expect(budget.spec?.maxUnavailable).toBe(1);
    expect(budget.spec?.minAvailable).toBeUndefined();
    const [container] = pod.containers;
    const env = (name: string) => container?.env?.find((e) => e.name === name);
    expect(env('POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(env('POD_NAME')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    const secret = env('K8S_JOBS_STORE')?.valueFrom?.secretKeyRef;
    expect(secret).toBeDefined();
    // The Secret the header tells to create is the one the pod reads.
    const text = await manifestText('ha-deployment.yaml');
    expect(text).toContain(`kubectl create secret generic ${secret!.name} --namespace default \\`);
    expect(text).toContain(`--from-literal=${secret!.key}='postgres://`);
    // Probes on the port the container names, as in the single-replica Deployment.
    const [, single] = (await loadManifest('example-deployment.yaml')) as [unknown, V1Deployment];
    const singleContainer = single.spec!.template.spec!.containers[0];
    expect(container?.ports).toEqual([{ name: 'health', containerPort: 8080 }]);
    expect(container?.readinessProbe).toEqual(singleContainer?.readinessProbe);
    expect(container?.livenessProbe).toEqual(singleContainer?.livenessProbe);
    expect(pod.securityContext?.runAsNonRoot).toBe(true);
    expect(container?.securityContext).toEqual(singleContainer?.securityContext);
    expect(container?.resources?.requests).toBeDefined();
  });

  test("the app's leaseName, deploy/rbac.yaml's Lease and `k8s-jobs status`'s default are one name", async () => {
    const leaseName = /leaseName: '([^']+)'/.exec(await manifestText('ha-deployment.yaml'))?.[1];
    const [, role] = (await loadManifest('rbac.yaml')) as [unknown, V1Role];
    const leaseRule = role.rules?.find((r) => r.resources?.includes('leases') && r.resourceNames);
    expect(leaseRule?.resourceNames).toEqual([leaseName]);
    expect(defaultLeaseName).toBe(leaseName);
  });

  test('its pod template is a pod template the API server accepts (in a Job, on the simulated cluster)', async () => {
    const [deployment] = (await loadManifest('ha-deployment.yaml')) as [V1Deployment];
    await expectTemplateAccepted(deployment);
  });
});
