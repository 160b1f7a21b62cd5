/** Reports a failure that does not fail the task (a periodic snapshot, an Events lookup). Must not throw. */
export type ReportEffectError = (error: unknown, where: { taskId: string; effect: string }) => void;

/**
 * Awaited before an effect touches anything: the runner's write-ahead hook (the task's transition
 * into the state that invoked the effect is durable first).
 */
export type BeforeEffect = (taskId: string) => Promise<void>;

/**
 * What an effect aborts its own requests with when its task's machine stops it. Given explicitly:
 * `abort()` without a reason builds a DOMException, stack trace included, for every task and
 * effect (a runner profile showed it), and nothing reads it — a stopped effect reports nothing.
 */
export const effectStopped: Error = new Error('the effect was stopped');
