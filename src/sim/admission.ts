import type { SimContext } from './context.js';
import { admitLimitRange, applyLimitRangeDefaults } from './limit-range.js';
import { admitPodSecurity } from './pod-security-admission.js';
import { admitQuota } from './quota-admission.js';
import type { ResourceStrategy } from './strategy.js';
import type { KubeObject } from './types.js';

/*
 * The admission chain a create goes through, in kube-apiserver's plugin order
 * (`pkg/kubeapiserver/options/plugins.go`): mutating plugins before validation, validating ones
 * after it (LimitRanger → PodSecurity → ResourceQuota, the first refusal wins). Dry runs run it
 * all; only quota's charge is skipped.
 */

const isPods = (strategy: ResourceStrategy): boolean => strategy.info.resource === 'pods' && !strategy.info.group;

/** Mutating admission on create: LimitRanger's defaults for pods. */
export function mutateOnCreate(ctx: SimContext, strategy: ResourceStrategy, obj: KubeObject): void {
  if (isPods(strategy)) applyLimitRangeDefaults(ctx, obj);
}

/** Validating admission on create; throws the refusing plugin's 403. */
export function validateOnCreate(ctx: SimContext, strategy: ResourceStrategy, obj: KubeObject, dryRun: boolean): void {
  if (isPods(strategy)) {
    admitLimitRange(ctx, strategy, obj);
    admitPodSecurity(ctx, obj);
  }
  admitQuota(ctx, strategy, obj, dryRun);
}
