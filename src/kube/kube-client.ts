import { readFileSync } from 'node:fs';
import { BatchV1Api, CoreV1Api, Watch, type KubeConfig } from '@kubernetes/client-node';

/** Where a pod finds its own namespace when it runs in the cluster. */
export const serviceAccountNamespacePath = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The client-node objects every effect shares, bound to one namespace. */
export interface KubeClient {
  kubeConfig: KubeConfig;
  /** The resolved namespace (never `''`). */
  namespace: string;
  batch: BatchV1Api;
  core: CoreV1Api;
  watch: Watch;
}

/**
 * Resolves `namespace: ''` the way kubectl does: the current context's namespace, else (running
 * in a pod) the service account's namespace file, else `default`. Read once, at start.
 */
export function resolveNamespace(
  kubeConfig: KubeConfig,
  namespace: string,
  serviceAccountNamespaceFile = serviceAccountNamespacePath,
): string {
  if (namespace !== '') return namespace;
  const fromContext = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  if (fromContext) return fromContext;
  try {
    const fromPod = readFileSync(serviceAccountNamespaceFile, 'utf8').trim();
    if (fromPod) return fromPod;
  } catch (err) {
    // Outside a pod the file does not exist: that is the normal case, and `default` applies.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
  }
  return 'default';
}

/**
 * Builds the shared clients of one runner: one BatchV1Api, one CoreV1Api, one Watch, in the
 * resolved namespace.
 *
 * @example
 * ```ts
 * const client = createKubeClient(cluster.kubeConfig, '');   // the context's namespace
 * ```
 */
export function createKubeClient(
  kubeConfig: KubeConfig,
  namespace: string,
  options: { serviceAccountNamespaceFile?: string } = {},
): KubeClient {
  return {
    kubeConfig,
    namespace: resolveNamespace(kubeConfig, namespace, options.serviceAccountNamespaceFile),
    batch: kubeConfig.makeApiClient(BatchV1Api),
    core: kubeConfig.makeApiClient(CoreV1Api),
    watch: new Watch(kubeConfig),
  };
}
