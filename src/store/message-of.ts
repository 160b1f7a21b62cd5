/** The message of whatever was thrown, for the text of a `StoreError` (the error itself stays its `cause`). */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
