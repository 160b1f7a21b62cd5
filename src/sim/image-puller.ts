import { createHash } from 'node:crypto';
import { Backoff, goDuration } from './backoff.js';
import { defaultPullPolicy, invalidImageNameMessage, parseImageReference } from './image-reference.js';
import type { ContainerSpec, PullOutcome } from './runtime.js';
import type { KubeObject } from './types.js';

/** Matches an image reference: a substring, or a regular expression. */
export type ImagePattern = string | RegExp;

/** How the kubelet's image manager reports on a pull, as Events on the pod (container fieldPath). */
export type ImageEventSink = (type: 'Normal' | 'Warning', reason: string, message: string) => void;

/** The waiting reasons the image manager leaves a container in. */
export type ImageFailureReason = 'InvalidImageName' | 'ErrImageNeverPull' | 'ImagePullBackOff' | 'ErrImagePull';

/** How `ensure` ended: the image is on the node, or the waiting reason and when to try again. */
export type EnsureImageResult =
  | {
      ok: true;
      /** What containerd reports as the image: `docker.io/library/busybox:1.36`. */ image: string;
      imageID: string;
    }
  | {
      ok: false;
      reason: ImageFailureReason;
      message: string;
      /** Cluster ms until the next attempt is worth making. */ retryAfterMs: number;
    };

/** The node's registries (which references fail, and how) and its clocks. */
export interface ImagePullerOptions {
  /** References that do not exist in their registry (NotFound). */
  unpullable: readonly ImagePattern[];
  /** References whose registry answers 429 Too Many Requests. */
  throttled: readonly ImagePattern[];
  /** How long a pull takes, in cluster ms. */
  pullLatencyMs: number;
  /** Cluster time now, in ms: the back-off's clock. */
  clusterNow: () => number;
  /** Waits `clusterMs` of cluster time. */
  sleep: (clusterMs: number) => Promise<void>;
}

/** kubelet's image back-off: 10 s doubling to MaxImageBackOff (300 s). */
const imageBackoffInitialMs = 10_000;
const imageBackoffMaxMs = 300_000;
/** The pod worker's resync after a failure that no back-off governs (workerBackOffPeriod). */
export const kubeletResyncMs = 10_000;
/** A failed pull is followed by a quick resync that finds the image in back-off. */
const afterPullFailureMs = 1_000;

function matches(image: string, patterns: readonly ImagePattern[]): boolean {
  return patterns.some((pattern) => (typeof pattern === 'string' ? image.includes(pattern) : pattern.test(image)));
}

function digestOf(normalized: string): string {
  return createHash('sha256').update(normalized).digest('hex');
}

/** `docker.io/library/busybox@sha256:…`: the repository digest containerd reports as imageID. */
function imageIdOf(normalized: string): string {
  const repository = normalized.replace(/@.*$/, '').replace(/:[^:/]+$/, '');
  return `${repository}@sha256:${digestOf(normalized)}`;
}

/** containerd's error for a reference its registry does not have. */
function notFoundError(normalized: string): string {
  return `rpc error: code = NotFound desc = failed to pull and unpack image "${normalized}": failed to resolve reference "${normalized}": ${normalized}: not found`;
}

/** containerd's error when the registry rate-limits the manifest fetch (Docker Hub's text for docker.io). */
function throttledError(normalized: string): string {
  const ref = parseImageReference(normalized);
  const registry = ref.domain === 'docker.io' ? 'registry-1.docker.io' : ref.domain;
  const server =
    ref.domain === 'docker.io'
      ? ' - Server message: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit'
      : '';
  return `rpc error: code = Unknown desc = failed to pull and unpack image "${normalized}": failed to copy: httpReadSeeker: failed open: unexpected status code https://${registry}/v2/${ref.path}/manifests/sha256:${digestOf(normalized)}: 429 Too Many Requests${server}`;
}

/**
 * The kubelet's image manager (`EnsureImageExists`) with containerd behind it: pull policies,
 * the node's image store, per pod+image back-off with the last error carried into the
 * ImagePullBackOff message (1.32+), and the Events and messages of each outcome.
 */
export class ImagePuller {
  readonly #options: ImagePullerOptions;
  readonly #backoff = new Backoff(imageBackoffInitialMs, imageBackoffMaxMs);
  readonly #lastError = new Map<string, string>();
  /** Normalized references present on the node. */
  readonly #present = new Set<string>();

  constructor(options: ImagePullerOptions) {
    this.#options = options;
  }

  /** Forgets the back-off state of a pod that is gone. */
  forgetPod(podUid: string, images: readonly string[]): void {
    for (const image of images) {
      this.#backoff.delete(`${podUid}_${image}`);
      this.#lastError.delete(`${podUid}_${image}`);
    }
  }

  /**
   * Makes sure the image of `container` is on the node, pulling it when its policy says so.
   * `override` is the runtime's say on how a pull ends (scripted containers).
   */
  async ensure(
    pod: KubeObject,
    container: ContainerSpec,
    override: PullOutcome | undefined,
    event: ImageEventSink,
  ): Promise<EnsureImageResult> {
    const image = String(container.image ?? '');
    const invalid = invalidImageNameMessage(image);
    if (invalid !== undefined) {
      event('Warning', 'InspectFailed', invalid);
      return { ok: false, reason: 'InvalidImageName', message: invalid, retryAfterMs: kubeletResyncMs };
    }
    const normalized = parseImageReference(image).normalized;
    const policy = String(container.imagePullPolicy ?? defaultPullPolicy(image));
    const present = this.#present.has(normalized);
    if (policy === 'Never' || (policy === 'IfNotPresent' && present)) {
      if (present) {
        event('Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return { ok: true, image: normalized, imageID: imageIdOf(normalized) };
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      event('Warning', 'ErrImageNeverPull', message);
      return { ok: false, reason: 'ErrImageNeverPull', message, retryAfterMs: kubeletResyncMs };
    }
    const key = `${pod.metadata.uid}_${image}`;
    const now = this.#options.clusterNow();
    if (this.#backoff.isInBackOffSinceUpdate(key, now)) {
      const back = `Back-off pulling image "${image}"`;
      event('Normal', 'BackOff', back);
      const last = this.#lastError.get(key);
      return {
        ok: false,
        reason: 'ImagePullBackOff',
        message: last ? `${back}: ${last}` : back,
        retryAfterMs: Math.max(0, this.#backoff.lastUpdate(key) + this.#backoff.get(key) - now),
      };
    }
    this.#lastError.delete(key);
    event('Normal', 'Pulling', `Pulling image "${image}"`);
    const latency = this.#options.pullLatencyMs;
    await this.#options.sleep(latency);
    const outcome =
      override ??
      (matches(image, this.#options.unpullable)
        ? 'notFound'
        : matches(image, this.#options.throttled)
          ? 'throttled'
          : 'ok');
    if (outcome !== 'ok') {
      const error = outcome === 'notFound' ? notFoundError(normalized) : throttledError(normalized);
      event('Warning', 'Failed', `Failed to pull image "${image}": ${error}`);
      this.#backoff.next(key, this.#options.clusterNow());
      this.#lastError.set(key, `ErrImagePull: ${error}`);
      return { ok: false, reason: 'ErrImagePull', message: error, retryAfterMs: afterPullFailureMs };
    }
    this.#present.add(normalized);
    const took = goDuration(latency);
    const size = 1_000_000 + (parseInt(digestOf(normalized).slice(0, 6), 16) % 50_000_000);
    event(
      'Normal',
      'Pulled',
      `Successfully pulled image "${image}" in ${took} (${took} including waiting). Image size: ${size} bytes.`,
    );
    return { ok: true, image: normalized, imageID: imageIdOf(normalized) };
  }
}
