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

export interface HeldSignals {
  /** Stops holding: from now on signals run `stop` (stopOnSignals), at once if one came while held. */
  stopWith(stop: () => Promise<StopReport>): () => void;
}

/**
 * Signals during start-up: a service logs that it listens before its stop is wired to the signals,
 * and a supervisor may send SIGTERM right after that line. Held, such a signal is remembered instead
 * of being the default kill, and stopWith(stop) runs the stop as soon as it is there; a
 * second signal exits at once, as it does while stopping. Call it first thing in a server command.
 */
export function holdSignals(exit: (code: number) => void = (code) => process.exit(code)): HeldSignals {
  let got = false;
  // A second one while still starting means it (a start that hangs is still stopped): exit at once.
  const note = (): void => (got ? exit(1) : void (got = true));
  process.on('SIGINT', note);
  process.on('SIGTERM', note);
  return {
    stopWith(stop) {
      const begin = stopOnSignals(stop, exit);
      process.off('SIGINT', note);
      process.off('SIGTERM', note);
      if (got) begin();
      return begin;
    },
  };
}
