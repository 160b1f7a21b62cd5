import type { SimContext } from './context.js';
import type { Controller } from './controller.js';

export interface JobControllerOptions {
  /** Pod re-create back-off base (cluster ms, scaled): 10 s, doubled per failure, capped at 6 min. */
  podBackoffBaseMs?: number;
  podBackoffMaxMs?: number;
}

/** The Job controller (Kubernetes 1.31+ rules). TODO(job-controller helper): implement. */
export function startJobController(_ctx: SimContext, _options: JobControllerOptions = {}): Controller {
  return { stop() {} };
}
