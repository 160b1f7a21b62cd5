import type { SimContext } from './context.js';
import type { RequestHook } from './server.js';

export interface FaultOptions {}

/** Fault injection, changeable at run time. TODO(faults helper). */
export class FaultInjector {
  constructor(private readonly ctx: SimContext, options: FaultOptions = {}) {
    void options;
  }
  readonly hook: RequestHook = () => false;
  stop(): void {}
}
