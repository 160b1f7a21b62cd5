import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { ValidationError } from '../errors.js';
import { toValidationIssues } from '../validation/parse.js';
import type { PolicyRule } from './rbac.js';

const policyRule = z.object({
  apiGroups: z.array(z.string()).min(1),
  resources: z.array(z.string()).min(1),
  verbs: z.array(z.string()).min(1),
  resourceNames: z.array(z.string()).optional(),
});

const role = z.object({
  apiVersion: z.literal('rbac.authorization.k8s.io/v1'),
  kind: z.enum(['Role', 'ClusterRole']),
  metadata: z.object({ name: z.string().min(1) }),
  rules: z.array(policyRule),
});

/**
 * The rules of the Role (or ClusterRole) in a Kubernetes manifest — one or more YAML documents,
 * as `kubectl apply -f` takes them — ready for `startSimulatedCluster({ rbac: { rules } })`, so
 * code is tested under exactly the RBAC it will be deployed with. `name` picks one Role when the
 * file has several. Throws a `ValidationError` (subject `RBAC manifest`) when the YAML does not
 * parse, no Role matches, or a rule is not a PolicyRule.
 *
 * @example
 * ```ts
 * const rules = policyRulesFromManifest(await readFile('deploy/rbac.yaml', 'utf8'));
 * const cluster = await startSimulatedCluster({ rbac: { rules, namespace: 'default' } });
 * ```
 */
export function policyRulesFromManifest(yamlText: string, name?: string): PolicyRule[] {
  const documents = parseAllDocuments(yamlText);
  const roles: unknown[] = [];
  for (const [index, document] of documents.entries()) {
    const [error] = document.errors;
    if (error)
      throw new ValidationError(
        [{ field: `document ${index}`, rule: `must be valid YAML (${error.message})` }],
        'RBAC manifest',
        { cause: error },
      );
    const value: unknown = document.toJS();
    const kind = typeof value === 'object' && value !== null ? (value as { kind?: unknown }).kind : undefined;
    if (kind === 'Role' || kind === 'ClusterRole') roles.push(value);
  }
  const parsed = roles.map((candidate) => role.safeParse(candidate));
  const failed = parsed.find((result) => !result.success);
  if (failed && !failed.success)
    throw new ValidationError(toValidationIssues(failed.error), 'RBAC manifest', { cause: failed.error });
  const matching = parsed.flatMap((result) =>
    result.success && (name === undefined || result.data.metadata.name === name) ? [result.data] : [],
  );
  const [only] = matching;
  if (!only || matching.length > 1) {
    const rule =
      name === undefined
        ? `must hold exactly one Role or ClusterRole, found ${matching.length}`
        : `must hold one Role or ClusterRole named "${name}", found ${matching.length}`;
    throw new ValidationError([{ field: 'kind', rule }], 'RBAC manifest');
  }
  return only.rules.map(({ resourceNames, ...rest }) => ({ ...rest, ...(resourceNames ? { resourceNames } : {}) }));
}
