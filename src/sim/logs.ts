import type { ServerResponse } from 'node:http';
import { ApiError, badRequest, methodNotAllowed, notFound } from './api-error.js';
import { nowNs, type ContainerLog, type LogReadOptions } from './container-logs.js';
import { strategyFor, type SimContext } from './context.js';
import type { Kubelet } from './kubelet.js';
import { parsePodLogOptions, type PodLogOptions } from './log-options.js';
import type { SubresourceHandler } from './server.js';
import type { KubeObject } from './types.js';
import type { OpenWatch } from './watch.js';

type ContainerStatusJson = {
  name?: string;
  containerID?: string;
  state?: { waiting?: { reason?: string }; running?: unknown; terminated?: { containerID?: string } };
  lastState?: { terminated?: { containerID?: string } };
};

function containerNames(pod: KubeObject, key: 'initContainers' | 'containers'): string[] {
  return ((pod.spec?.[key] ?? []) as { name: string }[]).map((c) => c.name);
}

/** pod strategy `validateContainer`: the container to read, or 400 naming the choices. */
function resolveContainer(pod: KubeObject, requested: string | undefined): string {
  const name = pod.metadata.name;
  const all = [...containerNames(pod, 'initContainers'), ...containerNames(pod, 'containers')];
  if (requested !== undefined) {
    if (!all.includes(requested)) throw badRequest(`container ${requested} is not valid for pod ${name}`);
    return requested;
  }
  const regular = containerNames(pod, 'containers');
  if (regular.length === 1) return regular[0]!;
  if (regular.length === 0) throw badRequest(`a container name must be specified for pod ${name}`);
  throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${all.join(' ')}]`);
}

/** kubelet `validateContainerLogStatus`: the container instance whose log to read, or the kubelet's refusal (400). */
function containerIdToRead(pod: KubeObject, container: string, previous: boolean): string {
  const podName = pod.metadata.name;
  const statuses = [
    ...((pod.status?.containerStatuses ?? []) as ContainerStatusJson[]),
    ...((pod.status?.initContainerStatuses ?? []) as ContainerStatusJson[]),
  ];
  const status = statuses.find((s) => s.name === container);
  const refuse = (text: string) => badRequest(`container "${container}" in pod "${podName}" ${text}`);
  if (!status) throw refuse('is not available');
  const last = status.lastState?.terminated;
  const { waiting, running, terminated } = status.state ?? {};
  if (previous) {
    if (!last?.containerID)
      throw badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
    return last.containerID;
  }
  if (running) return status.containerID ?? '';
  if (terminated) {
    // The next instance may not have started: its predecessor's log is the one to show.
    const id = terminated.containerID || last?.containerID;
    if (!id) throw refuse('is terminated');
    return id;
  }
  if (last) {
    if (!last.containerID) throw refuse('is terminated');
    return last.containerID;
  }
  if (waiting) {
    if (waiting.reason === 'ErrImagePull') throw refuse("is waiting to start: image can't be pulled");
    if (waiting.reason === 'ImagePullBackOff') throw refuse('is waiting to start: trying and failing to pull image');
    throw refuse(`is waiting to start: ${waiting.reason ?? ''}`);
  }
  throw refuse('is waiting to start - no logs yet');
}

/** Writes at most `limitBytes` in total (the cut may fall inside a line), then ends the response. */
class LimitedWriter {
  #left: number;

  constructor(
    readonly res: ServerResponse,
    limitBytes: number | undefined,
  ) {
    this.#left = limitBytes ?? Infinity;
  }

  get full(): boolean {
    return this.#left <= 0;
  }

  /** False when nothing more may be written now: the limit is reached, or the client must drain first. */
  write(text: string): boolean {
    if (this.full) return false;
    if (text === '') return true;
    // Without a limit there is nothing to count: no copy into a Buffer.
    if (this.#left === Infinity) return this.res.write(text);
    let chunk = Buffer.from(text, 'utf8');
    if (chunk.length > this.#left) chunk = chunk.subarray(0, this.#left);
    this.#left -= chunk.length;
    const more = this.res.write(chunk);
    if (this.full) this.res.end();
    return more && !this.full;
  }
}

function readOptions(options: PodLogOptions): LogReadOptions {
  let sinceNs: bigint | undefined;
  if (options.sinceSeconds !== undefined) sinceNs = nowNs() - BigInt(options.sinceSeconds) * 1_000_000_000n;
  if (options.sinceTime !== undefined) sinceNs = BigInt(options.sinceTime) * 1_000_000n;
  return { sinceNs, tailLines: options.tailLines, timestamps: options.timestamps };
}

function stream(ctx: SimContext, log: ContainerLog, options: PodLogOptions, res: ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
  const out = new LimitedWriter(res, options.limitBytes);
  const read = readOptions(options);
  if (!options.follow) {
    // A piece at a time, at the client's pace: a 10 MiB file is never one string in memory.
    const pieces = log.readPieces(read);
    const pump = (): void => {
      for (let piece = pieces.next(); !piece.done; piece = pieces.next()) {
        if (!out.write(piece.value)) {
          if (out.full || res.destroyed) return;
          res.once('drain', pump);
          return;
        }
      }
      if (!res.writableEnded) res.end();
    };
    pump();
    return;
  }
  // The follow reads the current file with a cursor, at the client's pace: a slow reader makes
  // it pause (and skip what rotates away meanwhile), never queue lines in memory. A full
  // `limitBytes` ends the response, whose close stops the follow.
  const following = log.follow(read, {
    write: (text) => out.write(text),
    end: () => {
      if (!res.writableEnded) res.end();
    },
  });
  res.on('drain', () => following.resume());
  // Counted while open, and cut by `faults.dropLogStreams()` as a flaky network would cut it.
  const open: OpenWatch = { resource: 'pods/log', drop: () => res.destroy() };
  ctx.openLogStreams.add(open);
  res.on('close', () => {
    following.stop();
    ctx.openLogStreams.delete(open);
  });
}

/**
 * `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the API server's checks in its order (options
 * → 422, pod → 404, container → 400, unscheduled → empty 200), then the kubelet's (the
 * container's state → 400 with the kubelet's text), then the container's log as `text/plain`,
 * followed until the container exits or the client goes away.
 */
export function logSubresource(ctx: SimContext, kubelet: Kubelet): SubresourceHandler {
  const pods = strategyFor(ctx, 'pods');
  return ({ attrs, query, res }) => {
    if (attrs.verb !== 'get') throw methodNotAllowed();
    const name = attrs.name ?? '';
    const options = parsePodLogOptions(query, name);
    const pod = ctx.store.read('pods', attrs.namespace, name);
    if (!pod) throw notFound(pods.info, name);
    const container = resolveContainer(pod, options.container);
    const nodeName = pod.spec?.nodeName as string | undefined;
    if (!nodeName) {
      // LogLocation has no node to ask: an empty stream.
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
      res.end();
      return;
    }
    if (nodeName !== kubelet.nodeName)
      throw new ApiError(404, 'NotFound', `nodes "${nodeName}" not found`, { name: nodeName, kind: 'nodes' });
    const containerID = containerIdToRead(pod, container, options.previous);
    const log = kubelet.containerLog(pod.metadata.uid, containerID);
    if (!log) {
      throw badRequest(
        `failed to get container status "${containerID}": rpc error: code = NotFound desc = an error occurred when try to find container "${containerID.replace(/^\w+:\/\//, '')}": not found`,
      );
    }
    stream(ctx, log, options, res);
  };
}
