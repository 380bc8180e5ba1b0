import fsSync from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import { readConfigFiles, statConfigFiles, type SourceFile, type SourceFileStat } from '../config/source.js';
import { symlinksOnPath } from './symlinks.js';
import { findWriters, identityKey } from './writers.js';

export interface WatcherOptions {
  /** How long the files must stay unchanged (and how long a burst of events is coalesced). */
  debounceMs?: number;
  /** Apply anyway, with a warning, once a change has been pending this long (a writer that never closes). */
  maxWaitMs?: number;
  logger?: Logger;
  /** Where to look for writers (tests); undefined → /proc. */
  procRoot?: string;
}

/**
 * What the watcher calls with the files of a change. It may also say which other files the config
 * depends on (`extraFiles`: the secrets' certificates, keys and CAs it was loaded with); those are
 * watched too, asked again after every change, and a change to one is a change like a YAML edit.
 */
export type ChangeHandler = ((files: SourceFile[]) => Promise<void>) & { extraFiles?: () => readonly string[] };

export const DEFAULT_DEBOUNCE_MS = 100;
export const DEFAULT_MAX_WAIT_MS = 10_000;
/** Longest pause between two checks while waiting for a writer to close. */
const MAX_POLL_MS = 1_000;

/**
 * Editors' scratch files beside the config (vim's `*.swp` family and its `4913` probe, backup `*~`,
 * Emacs' `#autosave#` and `.#lock`): never config, and vim rewrites its swap file every few seconds.
 * Other dot-files are not ignored: Kubernetes updates a mounted ConfigMap by swapping `..data`.
 */
const EDITOR_SCRATCH = /(~|\.sw[a-p])$|^#.*#$|^\.#|^4913$/;

/** The config files as one comparable value: the same key means the same files with the same stats. */
interface Sample {
  key: string;
  files: SourceFileStat[];
  /** Why these files cannot be whole yet (an empty file, no file), if so. */
  unfinished?: string;
}

/**
 * Watches the config path and calls `onChange` with the files once per change, when they are written
 * whole. Editors and `git checkout` write several files (or one file several times) in quick
 * succession, and each intermediate state may be invalid or — worse — valid and smaller (the first half
 * of a file, a truncated file in a directory). So a change is applied only when
 * - the files' list, inode, size, mtime and ctime have not changed for `debounceMs`,
 * - no process has one of them open for writing (Linux /proc, see writers.ts; elsewhere the stability
 *   rule alone), and none is empty and there is at least one (most writers truncate first),
 * - and they did not change while being read (stats equal before and after the read; else retried).
 * After `maxWaitMs` pending, the second rule gives way with a warning, so that a writer that never
 * closes cannot hold the config back forever (and an empty file does reach validation, which rejects
 * it). Reloads never overlap: a change that lands during a reload is applied after it. Nothing is
 * sampled, scanned or read until chokidar (or a symlink swap on the path) reports an event.
 */
export class ConfigWatcher {
  private watcher?: FSWatcher;
  /** One per directory holding a symlink the config path resolves through. */
  private linkWatchers: fsSync.FSWatcher[] = [];
  /** Watching the path again after a symlink swap: serialized, at most one more queued. */
  private rewatching: Promise<void> = Promise.resolve();
  private rewatchQueued = false;
  private timer?: NodeJS.Timeout;
  private running: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = false;
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly log?: Logger;
  private readonly procRoot?: string;
  /** The files last handed to onChange (or read at start): an event that leaves them as they are is a no-op. */
  private appliedKey?: string;
  /** When the pending change began, for maxWaitMs; undefined when nothing is pending. */
  private pendingSince?: number;
  /** Counts events, so that a settle can tell whether one arrived while it worked. */
  private events = 0;
  /** A sample taken after the latest event: what the files must still be when the timer fires. */
  private baseline?: Promise<Sample>;
  private sampling = false;
  private resample = false;
  /** Consecutive checks that found a writer or an empty file: the poll backs off. */
  private waits = 0;
  /** Files beyond the config path being watched (onChange.extraFiles), as last asked. */
  private extra: readonly string[] = [];

  constructor(
    private readonly configPath: string,
    private readonly onChange: ChangeHandler,
    opts: WatcherOptions = {},
  ) {
    this.debounceMs = opts.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.maxWaitMs = opts.maxWaitMs ?? DEFAULT_MAX_WAIT_MS;
    this.log = opts.logger;
    this.procRoot = opts.procRoot;
  }

  async start(): Promise<void> {
    this.extra = this.onChange.extraFiles?.() ?? [];
    this.appliedKey = (await this.sample()).key;
    await this.watch();
  }

  /** Follows the files onChange now depends on; a file newly named is watched from here on. */
  private followExtraFiles(): void {
    const next = this.onChange.extraFiles?.() ?? [];
    const added = next.filter((f) => !this.extra.includes(f));
    const removed = this.extra.filter((f) => !next.includes(f));
    this.extra = next;
    // Watched again from scratch, so that the symlinks the new files resolve through are watched too.
    if (added.length || removed.length) this.onSwap();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.rewatching;
    await this.unwatch();
    await this.running;
  }

  /**
   * chokidar on the path, and the directories that hold each symlink on the way to it: a watch holds
   * the inode the path resolved to, so a swapped link (envoyproxy/ratelimit's and Envoy's runtime root,
   * `ln -s v2 new && mv -Tf new current`; a ConfigMap's `..data` under a file path) is seen only
   * there. A swap is a change, and the path is watched again to follow the new target.
   */
  private async watch(): Promise<void> {
    const watcher = chokidar.watch([this.configPath, ...this.extra], {
      ignoreInitial: true,
      depth: 0,
      // Atomic saves (write temp + rename) otherwise show up as unlink + add.
      atomic: true,
      awaitWriteFinish: false,
      ignored: (p) => p !== this.configPath && !this.extra.includes(p) && EDITOR_SCRATCH.test(path.basename(p)),
    });
    this.watcher = watcher;
    watcher.on('all', () => this.onEvent());
    watcher.on('error', (err) => this.log?.error({ err }, `watching ${this.configPath} failed`));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    // The secret files too: a Kubernetes Secret volume swaps `..data` under certs/tls.crt on rotation.
    const links = new Set<string>();
    for (const target of [this.configPath, ...this.extra]) for (const link of await symlinksOnPath(target)) links.add(link);
    for (const link of links) {
      const name = path.basename(link);
      try {
        const w = fsSync.watch(path.dirname(link), (_event, changed) => {
          if (changed === null || changed === name) this.onSwap();
        });
        w.on('error', (err) => this.log?.error({ err }, `watching ${link} for swaps failed`));
        this.linkWatchers.push(w);
      } catch (err) {
        this.log?.warn({ err }, `cannot watch ${link} for swaps; edits through it are still followed`);
      }
    }
  }

  private async unwatch(): Promise<void> {
    for (const w of this.linkWatchers.splice(0)) w.close();
    const watcher = this.watcher;
    this.watcher = undefined;
    await watcher?.close();
  }

  private onSwap(): void {
    if (this.stopped) return;
    this.onEvent();
    if (this.rewatchQueued) return;
    this.rewatchQueued = true;
    this.rewatching = this.rewatching
      .then(async () => {
        this.rewatchQueued = false;
        if (this.stopped) return;
        await this.unwatch();
        if (this.stopped) return;
        await this.watch();
        // An edit in the new target while no watch was up: the next settle finds it (or finds nothing).
        this.onEvent();
      })
      .catch((err: unknown) => this.log?.error({ err }, `watching ${this.configPath} again failed`));
  }

  private onEvent(): void {
    if (this.stopped) return;
    this.events++;
    this.pendingSince ??= Date.now();
    this.takeBaseline();
    this.arm(this.debounceMs);
  }

  /** One sample in flight at most; one more after it if events arrived meanwhile. */
  private takeBaseline(): void {
    if (this.sampling) {
      this.resample = true;
      return;
    }
    this.sampling = true;
    this.baseline = (async () => {
      try {
        let s: Sample;
        do {
          this.resample = false;
          s = await this.sample();
        } while (this.resample);
        return s;
      } finally {
        this.sampling = false;
      }
    })();
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    // Wake up at the max-wait deadline if it comes first; past it, the debounce alone paces checks.
    const untilDeadline = (this.pendingSince ?? Date.now()) + this.maxWaitMs - Date.now();
    this.timer = setTimeout(() => this.fire(), untilDeadline > 0 ? Math.min(delayMs, untilDeadline) : delayMs);
  }

  private fire(): void {
    this.timer = undefined;
    if (this.queued) return;
    this.queued = true;
    this.running = this.running
      .then(() => {
        this.queued = false;
        return this.settle();
      })
      .catch((err: unknown) => this.log?.error({ err }, 'config watcher failed; waiting for the next edit'));
  }

  private async settle(): Promise<void> {
    if (this.stopped) return;
    const since = (this.pendingSince ??= Date.now());
    const eventsAtStart = this.events;
    const before = await this.baseline;
    const now = await this.sample();
    if (now.key === this.appliedKey) return this.done(eventsAtStart);
    if (before?.key !== now.key) return this.retry(now, this.debounceMs);
    const busy = now.unfinished ?? (await this.openForWriting(now));
    if (busy) {
      if (Date.now() - since < this.maxWaitMs) return this.retry(now, Math.min(this.debounceMs * 2 ** this.waits++, MAX_POLL_MS));
      this.log?.warn({ config: this.configPath, waitedMs: Date.now() - since }, `applying config although ${busy}`);
    }
    if (this.stopped) return;

    let files: SourceFile[] | undefined;
    let readError: unknown;
    try {
      files = await readConfigFiles(this.configPath);
    } catch (err) {
      readError = err;
    }
    // A change during the read (or a file removed under it) means what we hold may mix two versions.
    const after = await this.sample();
    if (after.key !== now.key) return this.retry(after, this.debounceMs);
    this.appliedKey = now.key;
    this.done(eventsAtStart);
    if (this.stopped) return;
    if (files) await this.onChange(files);
    else this.log?.error({ err: readError }, `could not read ${this.configPath}; last good config keeps serving`);
    if (this.stopped) return;
    // The change may name other secret files: watch those from now on. What they held when loaded is
    // unknown here (a file may be replaced before its watch is up): the settle after the new watch is
    // ready hands the files on again, and the handler compares what it reads with what it serves.
    const watchedBefore = this.extra;
    this.followExtraFiles();
    if (watchedBefore.join('\0') !== this.extra.join('\0')) this.appliedKey = undefined;
  }

  /** Not now: check again after `delayMs`, requiring the files to stay as `seen` meanwhile. */
  private retry(seen: Sample, delayMs: number): void {
    this.baseline = Promise.resolve(seen);
    this.arm(delayMs);
  }

  private done(eventsAtStart: number): void {
    this.waits = 0;
    // An event during this settle is a newer change: its wait starts now, its timer is already armed.
    this.pendingSince = this.events === eventsAtStart ? undefined : Date.now();
  }

  private async sample(): Promise<Sample> {
    let files: SourceFileStat[];
    try {
      files = await statConfigFiles(this.configPath);
    } catch (err) {
      return { key: `error ${(err as Error).message}`, files: [], unfinished: (err as Error).message };
    }
    const configFiles = files.length;
    // Secret files count like config files (stable, not being written, not empty), except that a
    // missing one is left to the loader to report: it is not a copy in progress of the config.
    const extra = await Promise.all(
      this.extra.map(async (file): Promise<SourceFileStat | string> => {
        try {
          const s = await fsSync.promises.stat(file, { bigint: true });
          return { file, dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
        } catch (err) {
          return `${file}\0${(err as NodeJS.ErrnoException).code ?? 'error'}`;
        }
      }),
    );
    files = [...files, ...extra.filter((e): e is SourceFileStat => typeof e !== 'string')];
    const key = [...files.map((f) => `${f.file}\0${f.dev}:${f.ino}:${f.size}:${f.mtimeNs}:${f.ctimeNs}`), ...extra.filter((e) => typeof e === 'string')].join('\n');
    const empty = files.find((f) => f.size === 0n);
    // No file at all is a copy or checkout in progress far more often than a wish to serve nothing.
    const unfinished = empty ? `${empty.file} is empty` : configFiles === 0 ? `${this.configPath} has no config file` : undefined;
    return { key, files, unfinished };
  }

  /** Why the files are not whole yet because some process is writing one, or undefined. */
  private async openForWriting(s: Sample): Promise<string | undefined> {
    const scan = await findWriters(s.files, { procRoot: this.procRoot });
    if (!scan) return undefined;
    for (const f of s.files) {
      const pids = scan.writers.get(identityKey(f));
      if (pids) return `${f.file} is open for writing (pid ${pids.join(', ')})`;
    }
    return undefined;
  }
}
