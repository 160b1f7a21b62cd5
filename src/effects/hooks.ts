/** Reports a failure that does not fail the task (a periodic snapshot, an Events lookup). Must not throw. */
export type ReportEffectError = (error: unknown, where: { taskId: string; effect: string }) => void;

/**
 * Awaited before an effect touches anything: the runner's write-ahead hook (the task's transition
 * into the state that invoked the effect is durable first).
 */
export type BeforeEffect = (taskId: string) => Promise<void>;
