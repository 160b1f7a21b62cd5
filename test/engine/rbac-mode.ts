import { readFile } from 'node:fs/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigDocument } from '../../src/sim/cluster.js';
import { policyRulesFromManifest, type RbacOptions, type SimulatedCluster } from '../../src/sim/index.js';

/*
 * RBAC mode of the engine tests: the runner runs as the service account of a Role manifest
 * (its own bearer token, held to the Role's rules in `default`), while the tests' own calls
 * through `cluster.kubeConfig` keep full access, as an admin's would.
 */

/** The bearer token of the restricted service account in RBAC mode. */
export const serviceAccountToken = 'k8s-jobs-service-account-token';

const repositoryRoot = new URL('../../', import.meta.url);

/**
 * RBAC options enforcing the Role of the manifest at `path` (relative to the repository root) on the service account.
 */
export async function rbacFromManifest(path: string): Promise<RbacOptions & { token: string }> {
  const rules = policyRulesFromManifest(await readFile(new URL(path, repositoryRoot), 'utf8'));
  return { rules, namespace: 'default', token: serviceAccountToken };
}

/** `K8S_JOBS_TEST_RBAC=deploy/rbac.yaml` runs the engine suite under that Role; unset, undefined. */
export async function rbacFromEnv(): Promise<RbacOptions | undefined> {
  const path = process.env.K8S_JOBS_TEST_RBAC;
  return path ? rbacFromManifest(path) : undefined;
}

/** A KubeConfig for the cluster that presents `token` (the service account's, in RBAC mode). */
export function kubeConfigWithToken(cluster: SimulatedCluster, token: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(JSON.stringify(kubeconfigDocument(cluster.url, token)));
  return kubeConfig;
}
