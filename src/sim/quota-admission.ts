import { forbidden, groupResource } from './api-error.js';
import type { SimContext } from './context.js';
import { addLists, maskList, prettyPrintList, readList, serializeList, type QuantityList } from './quota-quantity.js';
import { matchingResources, objectUsage, podConstraintViolation } from './quota-usage.js';
import type { ResourceStrategy } from './strategy.js';
import type { KubeObject } from './types.js';

/*
 * The ResourceQuota admission plugin (kubernetes/apiserver `pkg/admission/plugin/resourcequota`),
 * on create: each quota of the namespace whose `status.hard` names a resource the object costs
 * must have room for it, else 403 Forbidden with the plugin's message. The charge is written to
 * `status.used` before the object is stored (the quota controller recomputes it later, and gives
 * it back when pods finish or go). Dry runs are checked but charge nothing.
 */

function refuse(strategy: ResourceStrategy, obj: KubeObject, message: string): never {
  const name = obj.metadata.name || obj.metadata.generateName || 'Unknown';
  throw forbidden(`${groupResource(strategy.info)} "${name}" is forbidden: ${message}`, strategy.info, name);
}

/** Checks `obj` against its namespace's quotas and, unless `dryRun`, charges them. Throws 403 when refused. */
export function admitQuota(ctx: SimContext, strategy: ResourceStrategy, obj: KubeObject, dryRun: boolean): void {
  const namespace = obj.metadata.namespace;
  if (!strategy.info.namespaced || namespace === undefined) return;
  const quotas = ctx.store
    .list('resourcequotas', namespace)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (quotas.length === 0) return;
  const isPod = strategy.info.resource === 'pods' && !strategy.info.group;
  const interesting: { quota: KubeObject; hard: QuantityList; used: QuantityList }[] = [];
  for (const quota of quotas) {
    const hard = readList(quota.status?.hard);
    const restricted = matchingResources(strategy.info, Object.keys(hard));
    // A quota whose status the controller has not filled yet matches nothing (`Matches` reads status.hard).
    if (restricted.length === 0) continue;
    if (isPod) {
      const violation = podConstraintViolation(obj, restricted);
      if (violation) refuse(strategy, obj, `failed quota: ${quota.metadata.name}: ${violation}`);
    }
    const used = readList(quota.status?.used);
    if (restricted.some((name) => !used[name]))
      refuse(strategy, obj, `status unknown for quota: ${quota.metadata.name}, resources: ${restricted.join(',')}`);
    interesting.push({ quota, hard, used });
  }
  if (interesting.length === 0) return;
  const delta = objectUsage(strategy.info, obj, ctx.clock.now());
  const charges: { quota: KubeObject; used: QuantityList }[] = [];
  for (const { quota, hard, used } of interesting) {
    const names = Object.keys(hard);
    const requested = maskList(delta, names);
    if (Object.keys(requested).length === 0) continue;
    const newUsage = maskList(addLists(used, delta), names);
    const exceeded = names.filter((name) => newUsage[name] && newUsage[name].milli > hard[name]!.milli).sort();
    if (exceeded.length > 0) {
      refuse(
        strategy,
        obj,
        `exceeded quota: ${quota.metadata.name}, requested: ${prettyPrintList(maskList(requested, exceeded))}, used: ${prettyPrintList(maskList(used, exceeded))}, limited: ${prettyPrintList(maskList(hard, exceeded))}`,
      );
    }
    charges.push({ quota, used: { ...used, ...newUsage } });
  }
  if (dryRun) return;
  for (const { quota, used } of charges) {
    ctx.store.mutate('resourcequotas', namespace, quota.metadata.name, (q) => {
      if (q.metadata.uid !== quota.metadata.uid) return false;
      q.status = { ...(q.status ?? {}), used: serializeList(used) };
      return true;
    });
  }
}
