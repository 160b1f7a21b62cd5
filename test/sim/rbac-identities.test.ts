import { readFile } from 'node:fs/promises';
import { ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { kubeconfigDocument } from '../../src/sim/cluster.js';
import { policyRulesFromManifest, startSimulatedCluster } from '../../src/sim/index.js';

/*
 * RBAC mode with two identities (`rbac.token`: only the service account is held to the rules),
 * and reading the rules from a Role manifest.
 */

const clientWith = (url: string, token: string): CoreV1Api => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(JSON.stringify(kubeconfigDocument(url, token)));
  return kubeConfig.makeApiClient(CoreV1Api);
};

const statusOf = (call: Promise<unknown>): Promise<number> =>
  call.then(
    () => 200,
    (err: unknown) => {
      if (err instanceof ApiException) return err.code;
      throw err;
    },
  );

describe('rbac.token', () => {
  test("holds only the requests bearing the service account's token to the rules; the cluster's own identity keeps full access", async () => {
    const cluster = await startSimulatedCluster({
      token: 'admin-token',
      rbac: {
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
        namespace: 'default',
        token: 'sa-token',
      },
    });
    try {
      const serviceAccount = clientWith(cluster.url, 'sa-token');
      const admin = cluster.kubeConfig.makeApiClient(CoreV1Api);
      expect(await statusOf(serviceAccount.listNamespacedPod({ namespace: 'default' }))).toBe(200);
      expect(await statusOf(serviceAccount.listNamespacedSecret({ namespace: 'default' }))).toBe(403);
      expect(await statusOf(admin.listNamespacedSecret({ namespace: 'default' }))).toBe(200);
      // Both tokens authenticate; any other is still refused before RBAC.
      expect(await statusOf(clientWith(cluster.url, 'someone-else').listNamespacedPod({ namespace: 'default' }))).toBe(
        401,
      );
    } finally {
      await cluster.close();
    }
  });
});

describe('policyRulesFromManifest', () => {
  const role = (name: string, verbs: string) => `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: { name: ${name} }
rules:
  - { apiGroups: [""], resources: ["pods"], verbs: ${verbs} }
`;

  test("returns the rules of deploy/rbac.yaml's Role, skipping its other documents", async () => {
    const rules = policyRulesFromManifest(await readFile(new URL('../../deploy/rbac.yaml', import.meta.url), 'utf8'));
    expect(rules).toContainEqual({
      apiGroups: ['batch'],
      resources: ['jobs'],
      verbs: ['create', 'get', 'list', 'watch', 'delete'],
    });
  });

  test('picks a Role by name among several; without a name, several are an error', () => {
    const text = `${role('a', '["get"]')}---\n${role('b', '["list"]')}`;
    expect(policyRulesFromManifest(text, 'b')).toEqual([{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
    expect(() => policyRulesFromManifest(text)).toThrow(
      'invalid RBAC manifest: kind: must hold exactly one Role or ClusterRole, found 2',
    );
  });

  test('refuses a rule that is not a PolicyRule, naming the field', () => {
    expect(() => policyRulesFromManifest(role('a', '"get"'))).toThrow(ValidationError);
    expect(() => policyRulesFromManifest(role('a', '"get"'))).toThrow(/rules\.0\.verbs/);
  });

  test('refuses YAML that does not parse', () => {
    expect(() => policyRulesFromManifest('kind: Role\n  bad: [')).toThrow(
      /invalid RBAC manifest: document 0: must be valid YAML/,
    );
  });
});
