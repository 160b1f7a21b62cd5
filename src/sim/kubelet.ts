import type { SimContext } from './context.js';
import type { Controller } from './controller.js';

export interface KubeletOptions {
  /** `process` runs containers as local child processes; `scripted` asks `script`. @default 'process' */
  runtime?: 'process' | 'scripted';
}

export interface Kubelet extends Controller {}

/** Scheduler + kubelet + container runtime of one simulated node. TODO(kubelet helper). */
export function startKubelet(_ctx: SimContext, _options: KubeletOptions = {}): Kubelet {
  return { stop() {} };
}
