import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext } from './context.js';
import { sendJson, type NonResourceHandler } from './server.js';

/** The Kubernetes version the simulator reports and follows. */
export const simulatedVersion = { major: '1', minor: '31', gitVersion: 'v1.31.0-k8s-jobs-sim' };

/** `/version`, legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/batch/v1`), health. */
export function discoveryHandler(ctx: SimContext): NonResourceHandler {
  const resourceList = (group: string) => [...ctx.strategies.values()]
    .filter((s) => s.info.group === group)
    .flatMap((s) => [
      { name: s.info.resource, singularName: s.info.singular, namespaced: s.info.namespaced, kind: s.info.kind, verbs: s.info.verbs, ...(s.info.shortNames ? { shortNames: s.info.shortNames } : {}), ...(s.info.categories ? { categories: s.info.categories } : {}) },
      ...(s.info.subresources ?? []).map((sub) => ({ name: `${s.info.resource}/${sub.name}`, singularName: '', namespaced: s.info.namespaced, kind: sub.name === 'log' ? 'Pod' : s.info.kind, verbs: sub.verbs })),
    ]);
  return (path: string, _req: IncomingMessage, res: ServerResponse) => {
    switch (path) {
      case '/version':
        sendJson(res, 200, { ...simulatedVersion, gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', buildDate: '2024-08-13T07:28:49Z', goVersion: 'go1.22.5', compiler: 'gc', platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}` });
        return true;
      case '/api':
        sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1:6443' }] });
        return true;
      case '/apis':
        sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [{ name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } }] });
        return true;
      case '/api/v1':
        sendJson(res, 200, { kind: 'APIResourceList', groupVersion: 'v1', resources: resourceList('') });
        return true;
      case '/apis/batch':
        sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', name: 'batch', versions: [{ groupVersion: 'batch/v1', version: 'v1' }], preferredVersion: { groupVersion: 'batch/v1', version: 'v1' } });
        return true;
      case '/apis/batch/v1':
        sendJson(res, 200, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: 'batch/v1', resources: resourceList('batch') });
        return true;
      case '/healthz':
      case '/livez':
      case '/readyz':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return true;
      default:
        return false;
    }
  };
}
