/**
 * Boolean query parameters, converted as the apiserver converts them (apimachinery
 * `Convert_Slice_string_To_bool`): only the first value counts; absent, `0`, or `false` in any
 * letter case is false; every other value is true — `True`, `1`, `yes`, `no`, even an empty
 * value (`?follow`). A boolean parameter is never a 400.
 *
 * @example
 * ```ts
 * queryBool(new URLSearchParams('watch=True'), 'watch'); // true (the Python client's spelling)
 * queryBool(new URLSearchParams('watch=0'), 'watch'); // false
 * ```
 */
export function queryBool(query: URLSearchParams, name: string): boolean {
  return queryOptionalBool(query, name) ?? false;
}

/**
 * `Convert_Slice_string_To_Pointer_bool`, for the `*bool` options (`sendInitialEvents`,
 * `orphanDependents`): undefined when the parameter is absent, else as {@link queryBool}.
 */
export function queryOptionalBool(query: URLSearchParams, name: string): boolean | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  // strings.EqualFold folds U+017F (long s) to `s` as well.
  return !(raw === '0' || raw.toLowerCase().replaceAll('\u017f', 's') === 'false');
}
