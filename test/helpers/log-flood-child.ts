/**
 * The runner side of the log-flood test (`log-flood.ts` spawns it): one runner, in a process of
 * its own, runs one task whose container writes `FLOOD_BYTES` bytes of lines to stdout on the
 * simulated cluster another process serves (kubeconfig in `FLOOD_KUBECONFIG`). Two subscribers
 * read its `logs$`: one that keeps up (counts lines as they come) and one that reads slowly
 * through `bufferLogLines` (a pause every few lines). Once the task is `deleted` the child prints
 * one JSON line ({@link FloodChildReport}): what each subscriber got, the stored snapshot's size
 * and marker, and the process's peak RSS (`VmHWM`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import { createRunner } from '../../src/runner/create-runner.js';
import { bufferLogLines, droppedLinesMarker } from '../../src/logs/line-buffer.js';
import { peakRssBytes, type FloodChildReport } from './log-flood.js';

/** The `[N bytes truncated]` marker `CappedLogCollector` puts in a capped snapshot. */
const snapshotMarkerPattern = /\n… \[\d+ bytes truncated\] …\n/;
const droppedPattern = /^\[k8s-jobs: (\d+) lines dropped\]$/;

const bytes = Number(process.env['FLOOD_BYTES']);
if (!Number.isInteger(bytes) || bytes <= 0) throw new Error('FLOOD_BYTES must be a positive integer');
const line = process.env['FLOOD_LINE'] ?? 'flood';
const kubeConfig = new KubeConfig();
kubeConfig.loadFromString(process.env['FLOOD_KUBECONFIG'] ?? '');

const runner = await createRunner({
  kubeConfig,
  namespace: 'default',
  store: 'memory://',
  logs: { maxBytes: Number(process.env['FLOOD_LOG_MAX_BYTES'] ?? 1024 * 1024) },
});
const id = 'flood';
const startRssBytes = peakRssBytes();
try {
  await runner.addTask({
    id,
    image: 'busybox:1.36',
    // A last line after the flood, so both subscribers can tell they reached the end.
    command: ['sh', '-c', `yes '${line}' | head -c ${bytes}; echo; echo flood-end`],
  });

  let fastLines = 0;
  let fastChars = 0;
  let fastLast: string | undefined;
  const fast = new Promise<void>((resolve, reject) => {
    runner.logs$(id).subscribe({
      next: (text) => {
        fastLines++;
        fastChars += text.length;
        fastLast = text;
      },
      error: reject,
      complete: resolve,
    });
  });

  const slowBuffer = bufferLogLines(runner.logs$(id), { maxLines: 1000 });
  let slowLines = 0;
  let slowMarkers = 0;
  let slowDroppedAnnounced = 0;
  let slowMaxHeld = 0;
  let slowMaxHeldChars = 0;
  let slowLast: string | undefined;
  const slow = (async () => {
    for await (const text of slowBuffer) {
      slowMaxHeld = Math.max(slowMaxHeld, slowBuffer.held);
      slowMaxHeldChars = Math.max(slowMaxHeldChars, slowBuffer.heldChars);
      const dropped = droppedPattern.exec(text);
      if (dropped) {
        slowMarkers++;
        slowDroppedAnnounced += Number(dropped[1]);
      } else slowLines++;
      slowLast = text;
      // A reader slower than the pod: 1 ms every 100 lines.
      if (slowLines % 100 === 0) await sleep(1);
    }
  })();

  const record = await runner.waitFor(id, { timeoutMs: 600_000 });
  await Promise.all([fast, slow]);
  const snapshot = await runner.getLogs(id);
  const report: FloodChildReport = {
    outcome: record.outcome,
    fastLines,
    fastChars,
    fastLast,
    slowLines,
    slowMarkers,
    slowDroppedAnnounced,
    slowDropped: slowBuffer.dropped,
    slowMaxHeld,
    slowMaxHeldChars,
    slowLast,
    snapshotBytes: Buffer.byteLength(snapshot),
    snapshotMarker: snapshotMarkerPattern.exec(snapshot)?.[0],
    snapshotEnd: snapshot.slice(-40),
    startRssBytes,
    peakRssBytes: peakRssBytes(),
  };
  // `droppedLinesMarker` is what the pattern above recognises: checked here so a change of one shows.
  if (!droppedPattern.test(droppedLinesMarker(7))) throw new Error('droppedLinesMarker changed its format');
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  await runner.shutdown({ mode: 'cancel', timeoutMs: 10_000 });
}
