import { goDuration } from './backoff.js';
import { ContainerConfigError, containerArgv, containerEnvironment, volumeMountFailure } from './container-env.js';
import { ContainerLog } from './container-logs.js';
import { recordEvent } from './events.js';
import { kubeletResyncMs } from './image-puller.js';
import type { NodeServices } from './node-services.js';
import { generatePodStatus, podPhase, type ContainerRecord, type TerminatedState } from './pod-status.js';
import type { ContainerSpec, RunningContainer } from './runtime.js';
import type { KubeObject } from './types.js';
import { randomHex } from './random-hex.js';

/** The kubelet never gives a container less than this to stop (minimumGracePeriodInSeconds). */
const minimumGraceSeconds = 2;
/** Terminated containers' message with FallbackToLogsOnError: the log tail, bounded like the kubelet's. */
const fallbackMessageLines = 80;
const fallbackMessageBytes = 2048;

/**
 * One container of the pod as the kubelet drives it. `phase` is the worker's own bookkeeping;
 * `record` is what the status shows.
 */
interface ContainerSlot {
  spec: ContainerSpec;
  record: ContainerRecord;
  /** new: a start attempt is due (first start, after a failed attempt, or a restart past its back-off). */
  phase: 'new' | 'starting' | 'running' | 'exited' | 'stuck';
  instance?: RunningContainer;
  /** Real epoch ms before which no start is attempted (a failed attempt's retry time). */
  notBefore: number;
  /** Instances created so far (the next one's restartCount). */
  instances: number;
  lastExit?: { state: TerminatedState; finishedCluster: number };
  /** Logs of the current and the previous instance, by containerID. */
  logs: Map<string, ContainerLog>;
}

function newContainerId(): string {
  return `containerd://${randomHex(32)}`;
}

/**
 * The kubelet's pod worker for one pod bound to the node: sandbox, init containers in order,
 * then every container (pull, config, create, start), restarts under OnFailure/Always with the
 * CrashLoopBackOff back-off, pod-level `activeDeadlineSeconds`, and graceful termination when
 * the pod is deleted. It keeps the containers' logs until the pod object is gone.
 *
 * All work happens in `sync`, one run at a time per pod; container exits, timers and deletions
 * only ask for another run.
 */
export class PodWorker {
  pod: KubeObject;
  readonly uid: string;
  readonly startTime: string;
  readonly #node: NodeServices;
  readonly #slots: ContainerSlot[];
  #sandbox: 'none' | 'creating' | 'ready' | 'removed' = 'none';
  #podIP?: string;
  #terminating = false;
  #deleting = false;
  /** The pod reached Succeeded/Failed: nothing runs or restarts any more. */
  #terminal = false;
  #disposed = false;
  #syncing = false;
  #again = false;
  #wake?: { at: number; cancel: () => void };
  #cancelDeadline?: () => void;
  #podReason?: string;
  #podMessage?: string;
  #settled?: () => void;

  constructor(node: NodeServices, pod: KubeObject) {
    this.#node = node;
    this.pod = pod;
    this.uid = pod.metadata.uid;
    this.startTime = node.ctx.clock.timestamp();
    const defaultWaiting =
      Array.isArray(pod.spec?.initContainers) && pod.spec.initContainers.length > 0
        ? 'PodInitializing'
        : 'ContainerCreating';
    const slot = (spec: ContainerSpec, init: boolean): ContainerSlot => ({
      spec,
      record: {
        name: spec.name,
        init,
        specImage: String(spec.image ?? ''),
        state: { waiting: { reason: defaultWaiting } },
        restartCount: 0,
      },
      phase: 'new',
      notBefore: 0,
      instances: 0,
      logs: new Map(),
    });
    this.#slots = [
      ...((pod.spec?.initContainers ?? []) as ContainerSpec[]).map((c) => slot(c, true)),
      ...((pod.spec?.containers ?? []) as ContainerSpec[]).map((c) => slot(c, false)),
    ];
    const deadline = pod.spec?.activeDeadlineSeconds;
    // Measured against status.startTime and not scaled: the user wrote it, as Job deadlines.
    if (typeof deadline === 'number')
      this.#cancelDeadline = node.ctx.clock.afterReal(deadline * 1000, () => this.#deadlineExceeded());
  }

  /** The pod's status as the kubelet sees it, merged into `stored` (the current object). */
  status(stored: KubeObject): Record<string, unknown> {
    return generatePodStatus({
      pod: stored,
      containers: this.#slots.map((s) => s.record),
      sandboxReady: this.#sandbox === 'ready',
      hostIP: this.#node.hostIP,
      podIP: this.#podIP,
      startTime: this.startTime,
      podIsTerminal: this.#terminal,
      reason: this.#podReason,
      message: this.#podMessage,
      now: this.#node.ctx.clock.timestamp(),
    });
  }

  /** The log of the container instance `containerID`, while the pod exists. */
  log(containerID: string): ContainerLog | undefined {
    for (const slot of this.#slots) {
      const log = slot.logs.get(containerID);
      if (log) return log;
    }
    return undefined;
  }

  /** A newer version of the pod object: a deletion starts the graceful termination. */
  update(pod: KubeObject): void {
    this.pod = pod;
    if (pod.metadata.deletionTimestamp && !this.#deleting && !this.#disposed) {
      this.#deleting = true;
      if (this.#terminal) return;
      void this.#terminate();
    }
  }

  /** The pod object is gone: kill what still runs and forget everything. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#wake?.cancel();
    this.#cancelDeadline?.();
    for (const slot of this.#slots) slot.instance?.kill();
    this.#removeSandbox();
    this.#node.images.forgetPod(
      this.uid,
      this.#slots.map((s) => s.record.specImage),
    );
    for (const slot of this.#slots) this.#node.restarts.delete(this.#restartKey(slot));
  }

  /** Runs the pod's sync loop (one run at a time; a request during a run makes it run again). */
  async sync(): Promise<void> {
    if (this.#syncing) {
      this.#again = true;
      return;
    }
    this.#syncing = true;
    try {
      do {
        this.#again = false;
        await this.#syncOnce();
      } while (this.#again && this.#active());
    } finally {
      this.#syncing = false;
    }
  }

  #active(): boolean {
    return !this.#disposed && !this.#terminating && !this.#terminal;
  }

  #changed(): void {
    this.#node.statusChanged(this.uid);
  }

  #event(type: 'Normal' | 'Warning', reason: string, message: string, slot?: ContainerSlot): void {
    const fieldPath = slot
      ? `spec.${slot.record.init ? 'initContainers' : 'containers'}{${slot.record.name}}`
      : undefined;
    recordEvent(
      this.#node.ctx,
      { kind: 'Pod', apiVersion: 'v1', ...this.pod },
      type,
      reason,
      message,
      { component: 'kubelet', host: this.#node.nodeName },
      fieldPath,
    );
  }

  /** Wakes the sync loop at real time `at` (the earliest of the requested times wins). */
  #wakeAt(at: number): void {
    if (this.#wake && this.#wake.at <= at) return;
    this.#wake?.cancel();
    // One ms late: a back-off checked exactly at its end (in float cluster time) must have ended.
    const cancel = this.#node.ctx.clock.afterReal(at - this.#node.ctx.clock.now() + 1, () => {
      this.#wake = undefined;
      this.#node.requestSync(this.uid);
    });
    this.#wake = { at, cancel };
  }

  #realDelay(clusterMs: number): number {
    return clusterMs * this.#node.ctx.clock.timeScale;
  }

  async #syncOnce(): Promise<void> {
    if (!this.#active()) return;
    if (this.#sandbox === 'none') {
      // The volume manager mounts every volume before the sandbox exists; until then the pod waits.
      const mountFailure = volumeMountFailure(this.#node.ctx.store, this.pod);
      if (mountFailure) {
        this.#event('Warning', 'FailedMount', mountFailure);
        this.#wakeAt(this.#node.ctx.clock.now() + this.#realDelay(kubeletResyncMs));
        this.#changed();
        return;
      }
      this.#sandbox = 'creating';
      await this.#node.sleep(this.#node.startLatencyMs);
      if (!this.#active()) return;
      this.#podIP = this.#node.allocatePodIP();
      this.#sandbox = 'ready';
      this.#changed();
    }
    if (this.#sandbox !== 'ready') return;
    for (const slot of this.#slots) {
      if (!slot.record.init) continue;
      if (slot.phase === 'exited' && slot.lastExit?.state.exitCode === 0) continue;
      // Init containers run one at a time, in order: the next waits for this one's success.
      await this.#advance(slot);
      this.#checkCompletion();
      return;
    }
    for (const slot of this.#slots) {
      if (slot.record.init) continue;
      await this.#advance(slot);
      if (!this.#active()) return;
    }
    this.#checkCompletion();
  }

  #shouldRestart(slot: ContainerSlot): boolean {
    const policy = String(this.pod.spec?.restartPolicy ?? 'Always');
    const exitCode = slot.lastExit?.state.exitCode ?? 0;
    if (slot.record.init) return policy !== 'Never' && exitCode !== 0;
    return policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
  }

  #restartKey(slot: ContainerSlot): string {
    return `${this.pod.metadata.name}_${this.pod.metadata.namespace ?? ''}_${this.uid}_${slot.record.name}`;
  }

  /** `name_namespace(uid)`, as the kubelet's messages name a pod. */
  #podRef(): string {
    return `${this.pod.metadata.name}_${this.pod.metadata.namespace ?? ''}(${this.uid})`;
  }

  /** Moves one container on: a due start, a restart past its back-off, or the CrashLoopBackOff wait. */
  async #advance(slot: ContainerSlot): Promise<void> {
    if (slot.phase === 'exited') {
      if (!this.#shouldRestart(slot) || !slot.lastExit) return;
      const key = this.#restartKey(slot);
      const now = this.#node.clusterNow();
      const finished = slot.lastExit.finishedCluster;
      if (this.#node.restarts.isInBackOffSince(key, finished, now)) {
        const backoff = this.#node.restarts.get(key);
        slot.record.lastState = slot.lastExit.state;
        slot.record.state = {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off ${goDuration(backoff)} restarting failed container=${slot.record.name} pod=${this.#podRef()}`,
          },
        };
        this.#event(
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${slot.record.name} in pod ${this.#podRef()}`,
          slot,
        );
        this.#wakeAt(this.#node.ctx.clock.now() + this.#realDelay(finished + backoff - now));
        this.#changed();
        return;
      }
      this.#node.restarts.next(key, finished);
      slot.phase = 'new';
      slot.notBefore = 0;
    }
    if (slot.phase !== 'new') return;
    if (this.#node.ctx.clock.now() < slot.notBefore) {
      this.#wakeAt(slot.notBefore);
      return;
    }
    await this.#start(slot);
  }

  /** A start attempt did not get as far as a container: wait in `reason` and retry later. */
  #attemptFailed(slot: ContainerSlot, reason: string, message: string, retryAfterClusterMs: number): void {
    this.#event('Warning', 'Failed', `Error: ${reason === 'CreateContainerConfigError' ? message : reason}`, slot);
    slot.record.state = { waiting: { reason, message } };
    slot.phase = 'new';
    slot.notBefore = this.#node.ctx.clock.now() + this.#realDelay(retryAfterClusterMs);
    this.#wakeAt(slot.notBefore);
    this.#changed();
  }

  /** kubeGenericRuntimeManager.startContainer: pull, generate the config, create, start. */
  async #start(slot: ContainerSlot): Promise<void> {
    const node = this.#node;
    slot.phase = 'starting';
    const plan = node.runtime.plan(this.pod, slot.spec, { restartCount: slot.instances, init: slot.record.init });
    const pulled = await node.images.ensure(this.pod, slot.spec, plan.pull, (type, reason, message) =>
      this.#event(type, reason, message, slot),
    );
    if (!this.#active()) return this.#abandon(slot);
    if (!pulled.ok) return this.#attemptFailed(slot, pulled.reason, pulled.message, pulled.retryAfterMs);
    slot.record.image = pulled.image;
    slot.record.imageID = pulled.imageID;
    let environment;
    try {
      environment = containerEnvironment(
        {
          store: node.ctx.store,
          pod: this.pod,
          nodeName: node.nodeName,
          hostIP: node.hostIP,
          podIP: this.#podIP ?? '',
          allocatable: node.allocatable,
        },
        slot.spec,
      );
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      return this.#attemptFailed(slot, 'CreateContainerConfigError', err.message, kubeletResyncMs);
    }
    for (const skipped of environment.skipped) {
      this.#event(
        'Warning',
        'InvalidEnvironmentVariableNames',
        `Keys [${skipped.keys.join(', ')}] from the EnvFrom ${skipped.kind} ${this.pod.metadata.namespace ?? ''}/${skipped.name} were skipped since they are considered invalid environment variable names.`,
        slot,
      );
    }
    await node.sleep(node.startLatencyMs);
    if (!this.#active()) return this.#abandon(slot);
    const log = new ContainerLog(node.containerLogMaxSize, node.containerLogMaxFiles);
    const outcome = await plan.start({
      pod: this.pod,
      container: slot.spec,
      argv: containerArgv(slot.spec, environment.env),
      env: environment.env,
      log,
    });
    if (this.#disposed) {
      // The pod object went away while the runtime started this instance: nothing may outlive it.
      if (outcome.kind === 'started') outcome.container.kill();
      return;
    }
    if (outcome.kind === 'stuck') {
      slot.phase = 'stuck';
      this.#checkSettled();
      return;
    }
    const containerID = newContainerId();
    slot.record.restartCount = slot.instances;
    slot.instances++;
    slot.record.containerID = containerID;
    if (slot.lastExit) slot.record.lastState = slot.lastExit.state;
    // The kubelet keeps one dead instance per container (MaxPerPodContainer): its logs are `previous`.
    for (const id of slot.logs.keys()) if (id !== slot.lastExit?.state.containerID) slot.logs.delete(id);
    slot.logs.set(containerID, log);
    this.#event('Normal', 'Created', `Created container: ${slot.record.name}`, slot);
    const startedAt = node.ctx.clock.timestamp();
    if (outcome.kind === 'startError') {
      this.#event('Warning', 'Failed', `Error: ${outcome.message}`, slot);
      this.#exited(slot, {
        exitCode: 128,
        reason: 'StartError',
        message: outcome.message,
        startedAt: '1970-01-01T00:00:00Z',
        finishedAt: startedAt,
        containerID,
      });
      return;
    }
    this.#event('Normal', 'Started', `Started container ${slot.record.name}`, slot);
    slot.instance = outcome.container;
    slot.phase = 'running';
    slot.record.state = { running: { startedAt } };
    this.#changed();
    // Deleted while it was being created: it still gets its stop signal.
    if (this.#terminating) this.#stop(slot);
    void outcome.container.exited.then((exit) => {
      slot.instance = undefined;
      const state: TerminatedState = {
        exitCode: exit.exitCode,
        reason: exit.reason,
        startedAt,
        finishedAt: node.ctx.clock.timestamp(),
        containerID,
      };
      if (exit.exitCode !== 0 && slot.spec['terminationMessagePolicy'] === 'FallbackToLogsOnError') {
        const tail = log.read({ tailLines: fallbackMessageLines });
        if (tail) state.message = tail.slice(-fallbackMessageBytes);
      }
      this.#exited(slot, state);
    });
  }

  /** Termination began while a start was on its way: the attempt ends without a container. */
  #abandon(slot: ContainerSlot): void {
    slot.phase = slot.lastExit ? 'exited' : 'new';
    this.#checkSettled();
  }

  #exited(slot: ContainerSlot, state: TerminatedState): void {
    slot.phase = 'exited';
    slot.lastExit = { state, finishedCluster: this.#node.clusterNow() };
    slot.record.state = { terminated: state };
    this.#changed();
    if (this.#terminating) this.#checkSettled();
    else if (!this.#disposed) this.#node.requestSync(this.uid);
  }

  /** The pod finished by itself (restartPolicy Never/OnFailure): its sandbox goes, its status is final. */
  #checkCompletion(): void {
    if (!this.#active()) return;
    const phase = podPhase(
      String(this.pod.spec?.restartPolicy ?? 'Always'),
      this.#slots.map((s) => s.record),
      false,
    );
    if (phase !== 'Succeeded' && phase !== 'Failed') return;
    this.#finish();
  }

  #finish(): void {
    this.#terminal = true;
    this.#wake?.cancel();
    this.#wake = undefined;
    this.#cancelDeadline?.();
    this.#removeSandbox();
    this.#changed();
  }

  #removeSandbox(): void {
    if (this.#podIP && this.#sandbox === 'ready') this.#node.releasePodIP(this.#podIP);
    this.#sandbox = 'removed';
  }

  #deadlineExceeded(): void {
    this.#cancelDeadline = undefined;
    if (!this.#active()) return;
    this.#podReason = 'DeadlineExceeded';
    this.#podMessage = 'Pod was active on the node longer than the specified deadline';
    this.#event('Normal', 'DeadlineExceeded', this.#podMessage);
    void this.#terminate();
  }

  #stop(slot: ContainerSlot): void {
    this.#event('Normal', 'Killing', `Stopping container ${slot.record.name}`, slot);
    slot.instance?.terminate();
  }

  #checkSettled(): void {
    if (this.#slots.every((s) => s.phase !== 'running' && s.phase !== 'starting')) this.#settled?.();
  }

  /**
   * Graceful termination (deletion or deadline): SIGTERM to every running container, SIGKILL
   * after the grace period, then the final status (every container terminated, phase terminal)
   * and, for a deletion, the kubelet's own delete with grace 0 that lets the object go once
   * its finalizers are gone.
   */
  async #terminate(): Promise<void> {
    if (this.#terminating || this.#terminal || this.#disposed) return;
    this.#terminating = true;
    this.#wake?.cancel();
    this.#wake = undefined;
    this.#cancelDeadline?.();
    const meta = this.pod.metadata;
    const grace = Math.max(
      minimumGraceSeconds,
      meta.deletionGracePeriodSeconds ?? Number(this.pod.spec?.terminationGracePeriodSeconds ?? 30),
    );
    const settled = new Promise<void>((resolve) => (this.#settled = resolve));
    for (const slot of this.#slots) if (slot.phase === 'running') this.#stop(slot);
    const cancelKill = this.#node.ctx.clock.afterScaled(grace * 1000, () => {
      for (const slot of this.#slots) slot.instance?.kill();
    });
    this.#checkSettled();
    await settled;
    cancelKill();
    if (this.#disposed) return;
    for (const slot of this.#slots) {
      if ('terminated' in slot.record.state) continue;
      // Never ran (or waits to restart): the status manager reports it as lost (TerminatePod).
      if (slot.lastExit) slot.record.lastState = slot.lastExit.state;
      slot.record.state = {
        terminated: {
          exitCode: 137,
          reason: 'ContainerStatusUnknown',
          message: 'The container could not be located when the pod was terminated',
        },
      };
    }
    this.#terminating = false;
    this.#finish();
    this.#node.flushStatus(this.uid);
    if (this.#deleting) this.#node.deleteWithoutGrace(this.pod);
  }
}
