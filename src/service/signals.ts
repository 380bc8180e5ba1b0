import type { StopReport } from './stack.js';

/**
 * SIGINT and SIGTERM stop a process the same way: `stop` (see ServiceStack), then exit 0 when
 * everything stopped within the deadline, 1 when not. A second signal while stopping exits at once,
 * with 1: an operator who presses Ctrl-C twice means it. No imports beyond types: the CLI loads this
 * before it knows which server it runs.
 */
export function stopOnSignals(stop: () => Promise<StopReport>, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  let stopping = false;
  const begin = (): void => {
    stopping = true;
    stop().then(
      (report) => exit(report.clean ? 0 : 1),
      () => exit(1),
    );
  };
  const onSignal = (): void => {
    if (stopping) return exit(1);
    begin();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A stop asked for another way (a cluster primary's message): the same stop, once, never escalated.
  return () => {
    if (!stopping) begin();
  };
}
