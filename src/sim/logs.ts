import type { SimContext } from './context.js';
import type { Kubelet } from './kubelet.js';
import type { SubresourceHandler } from './server.js';

/** `GET …/pods/{name}/log`. TODO(kubelet helper). */
export function logSubresource(_ctx: SimContext, _kubelet: Kubelet): SubresourceHandler {
  return ({ res }) => {
    res.writeHead(501);
    res.end();
  };
}
