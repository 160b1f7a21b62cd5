import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimContext } from './context.js';
import { sendJson, type NonResourceHandler } from './server.js';
import type { ResourceStrategy } from './strategy.js';

/** The Kubernetes version the simulator reports and follows. */
export const simulatedVersion = { major: '1', minor: '31', gitVersion: 'v1.31.0-k8s-jobs-sim' };

/** The media type of aggregated discovery; clients read the response Content-Type to tell it from legacy. */
const aggregatedMediaType = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

interface GroupVersion {
  group: string;
  version: string;
  strategies: ResourceStrategy[];
}

/** Served group-versions, derived from the registered strategies (core first, then groups by name). */
function groupVersions(ctx: SimContext): GroupVersion[] {
  const byKey = new Map<string, GroupVersion>();
  for (const strategy of ctx.strategies.values()) {
    const { group, version } = strategy.info;
    const key = `${group}/${version}`;
    const entry = byKey.get(key) ?? { group, version, strategies: [] };
    entry.strategies.push(strategy);
    byKey.set(key, entry);
  }
  // The apiserver lists resources alphabetically within a group-version.
  for (const gv of byKey.values()) gv.strategies.sort((a, b) => a.info.resource.localeCompare(b.info.resource));
  return [...byKey.values()].sort((a, b) =>
    a.group === b.group ? 0 : a.group === '' ? -1 : b.group === '' ? 1 : a.group.localeCompare(b.group),
  );
}

const groupVersionString = (gv: { group: string; version: string }): string =>
  gv.group ? `${gv.group}/${gv.version}` : gv.version;

/** One resource and its subresources as a legacy `APIResourceList` lists them. */
function legacyResources(strategy: ResourceStrategy): Record<string, unknown>[] {
  const { info } = strategy;
  return [
    {
      name: info.resource,
      singularName: info.singular,
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: info.verbs,
      ...(info.shortNames ? { shortNames: info.shortNames } : {}),
      ...(info.categories ? { categories: info.categories } : {}),
    },
    ...(info.subresources ?? []).map((sub) => ({
      name: `${info.resource}/${sub.name}`,
      singularName: '',
      namespaced: info.namespaced,
      kind: info.kind,
      verbs: sub.verbs,
    })),
  ];
}

/** The same resource as aggregated discovery (`apidiscovery.k8s.io/v2` APIResourceDiscovery) describes it. */
function aggregatedResource(strategy: ResourceStrategy): Record<string, unknown> {
  const { info } = strategy;
  // responseKind group/version are left empty: they default to the enclosing group-version.
  const responseKind = { group: '', version: '', kind: info.kind };
  return {
    resource: info.resource,
    responseKind,
    scope: info.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: info.singular,
    verbs: info.verbs,
    ...(info.shortNames ? { shortNames: info.shortNames } : {}),
    ...(info.categories ? { categories: info.categories } : {}),
    ...(info.subresources?.length
      ? { subresources: info.subresources.map((sub) => ({ subresource: sub.name, responseKind, verbs: sub.verbs })) }
      : {}),
  };
}

function aggregatedList(gvs: GroupVersion[]): Record<string, unknown> {
  const groups = new Map<string, GroupVersion[]>();
  for (const gv of gvs) groups.set(gv.group, [...(groups.get(gv.group) ?? []), gv]);
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: [...groups].map(([group, versions]) => ({
      metadata: { name: group, creationTimestamp: null },
      versions: versions.map((gv) => ({
        version: gv.version,
        resources: gv.strategies.map(aggregatedResource),
        freshness: 'Current',
      })),
    })),
  };
}

/** Whether the client offers aggregated discovery v2 in `Accept` (client-go ≥1.26, kubectl). */
function wantsAggregated(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return (
      params.includes('g=apidiscovery.k8s.io') && params.includes('v=v2') && params.includes('as=APIGroupDiscoveryList')
    );
  });
}

function groupDocument(group: string, gvs: GroupVersion[]): Record<string, unknown> {
  const versions = gvs.map((gv) => ({ groupVersion: groupVersionString(gv), version: gv.version }));
  return { name: group, versions, preferredVersion: versions[0] };
}

/**
 * `/version`, discovery and health. Discovery is served both ways the apiserver does: aggregated
 * (`/api` and `/apis` as one `APIGroupDiscoveryList` each, when the client asks for it) and legacy
 * (`APIVersions`, `APIGroupList`, `APIGroup`, one `APIResourceList` per group-version). The
 * resources listed are exactly the served strategies, so resources added later appear by themselves.
 */
export function discoveryHandler(ctx: SimContext): NonResourceHandler {
  return (path: string, req: IncomingMessage, res: ServerResponse) => {
    const gvs = groupVersions(ctx);
    const core = gvs.filter((gv) => gv.group === '');
    const named = gvs.filter((gv) => gv.group !== '');
    switch (path) {
      case '/version':
        sendJson(res, 200, {
          ...simulatedVersion,
          gitCommit: '0000000000000000000000000000000000000000',
          gitTreeState: 'clean',
          buildDate: '2024-08-13T07:28:49Z',
          goVersion: 'go1.22.5',
          compiler: 'gc',
          platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
        });
        return true;
      case '/api':
        if (wantsAggregated(req)) sendJson(res, 200, aggregatedList(core), { 'Content-Type': aggregatedMediaType });
        else
          sendJson(res, 200, {
            kind: 'APIVersions',
            versions: core.map((gv) => gv.version),
            serverAddressByClientCIDRs: [
              {
                clientCIDR: '0.0.0.0/0',
                serverAddress:
                  req.socket.localAddress && req.socket.localPort
                    ? `${req.socket.localAddress}:${req.socket.localPort}`
                    : '127.0.0.1:6443',
              },
            ],
          });
        return true;
      case '/apis': {
        if (wantsAggregated(req)) {
          sendJson(res, 200, aggregatedList(named), { 'Content-Type': aggregatedMediaType });
          return true;
        }
        const groups = [...new Set(named.map((gv) => gv.group))].map((group) =>
          groupDocument(
            group,
            named.filter((gv) => gv.group === group),
          ),
        );
        sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups });
        return true;
      }
      case '/healthz':
      case '/livez':
      case '/readyz':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return true;
    }
    const core1 = core.find((gv) => path === `/api/${gv.version}`);
    if (core1) {
      sendJson(res, 200, {
        kind: 'APIResourceList',
        groupVersion: core1.version,
        resources: core1.strategies.flatMap(legacyResources),
      });
      return true;
    }
    const group = named.filter((gv) => path === `/apis/${gv.group}`);
    if (group.length > 0) {
      sendJson(res, 200, { kind: 'APIGroup', apiVersion: 'v1', ...groupDocument(group[0]!.group, group) });
      return true;
    }
    const gv = named.find((g) => path === `/apis/${g.group}/${g.version}`);
    if (gv) {
      sendJson(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: groupVersionString(gv),
        resources: gv.strategies.flatMap(legacyResources),
      });
      return true;
    }
    return false;
  };
}
