import { readFileSync } from 'node:fs';
import type { Agent } from 'node:http';
import { BatchV1Api, CoreV1Api, Watch, type Cluster, type KubeConfig } from '@kubernetes/client-node';

/** Where a pod finds its own namespace when it runs in the cluster. */
export const serviceAccountNamespacePath = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The client-node objects every effect shares, bound to one namespace. */
export interface KubeClient {
  /** The runner's KubeConfig seen through {@link withSharedAgent}: every request shares one keep-alive agent. */
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

/** The agent options client-node derives from the kubeconfig for every request (its `createAgent` is private). */
type AgentOptions = Record<string, unknown>;
interface AgentFactory {
  createAgent(cluster: Cluster | null, agentOptions: AgentOptions): Agent;
}

/** Buffers (certificates read again per request) compare by content, the rest by identity. */
function sameOption(a: unknown, b: unknown): boolean {
  return Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : a === b;
}

function sameOptions(a: AgentOptions, b: AgentOptions): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (!sameOption(a[key], b[key])) return false;
  return true;
}

/**
 * A view of `kubeConfig` whose requests share one keep-alive agent. client-node 1.x builds a new
 * agent for every request and watch (kubernetes-client/javascript#2893), so every call paid a new
 * TCP (and TLS) connection; the profile of a runner showed it among the top costs. The agent is
 * made by client-node's own `createAgent` (proxy, TLS and `skipTLSVerify` rules unchanged) with
 * `keepAlive: true`, and made again when the options it was built from change (an exec plugin's
 * rotated client certificate). The user's KubeConfig object is not modified: the view inherits
 * from it, so contexts, users and credential plugins are its own.
 */
export function withSharedAgent(kubeConfig: KubeConfig): KubeConfig {
  const original = kubeConfig as unknown as AgentFactory;
  let cached: { cluster: Cluster | null; options: AgentOptions; agent: Agent } | undefined;
  const view = Object.create(kubeConfig) as KubeConfig;
  (view as unknown as AgentFactory).createAgent = (cluster, agentOptions) => {
    if (cached?.cluster === cluster && sameOptions(cached.options, agentOptions)) return cached.agent;
    // Idle sockets of a replaced agent are unref'd and closed by the server; in-flight requests finish on it.
    const agent = original.createAgent.call(view, cluster, { ...agentOptions, keepAlive: true });
    cached = { cluster, options: agentOptions, agent };
    return agent;
  };
  return view;
}

/**
 * Builds the shared clients of one runner: one BatchV1Api, one CoreV1Api, one Watch, in the
 * resolved namespace, all over one keep-alive agent (see {@link withSharedAgent}).
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
  const shared = withSharedAgent(kubeConfig);
  return {
    kubeConfig: shared,
    namespace: resolveNamespace(kubeConfig, namespace, options.serviceAccountNamespaceFile),
    batch: shared.makeApiClient(BatchV1Api),
    core: shared.makeApiClient(CoreV1Api),
    watch: new Watch(shared),
  };
}
