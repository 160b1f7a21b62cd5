/**
 * `--kubeconfig` of the commands that talk to a cluster (`run`, `status`).
 */
import { KubeConfig } from '@kubernetes/client-node';

/** The kubeconfig at `path`, else client-node's default: `$KUBECONFIG`, `~/.kube/config`, in-cluster. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
