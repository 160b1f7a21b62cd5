/** A running loop of the simulated control plane (job controller, kubelet, garbage collector). */
export interface Controller {
  stop(): void | Promise<void>;
}
