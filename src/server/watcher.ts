import chokidar, { type FSWatcher } from 'chokidar';

/**
 * Watches the config path and calls `onChange` once per burst of edits: editors and `git checkout`
 * write several files (or one file several times) in quick succession, and each intermediate state
 * may be invalid, so we wait for the burst to settle before reloading.
 */
export class ConfigWatcher {
  private watcher?: FSWatcher;
  private timer?: NodeJS.Timeout;
  private running = Promise.resolve();

  constructor(
    private readonly configPath: string,
    private readonly onChange: () => Promise<void>,
    private readonly debounceMs = 100,
  ) {}

  async start(): Promise<void> {
    this.watcher = chokidar.watch(this.configPath, {
      ignoreInitial: true,
      depth: 0,
      // Atomic saves (write temp + rename) otherwise show up as unlink + add.
      atomic: true,
      awaitWriteFinish: false,
    });
    this.watcher.on('all', () => this.schedule());
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // Reloads never overlap: a burst that lands during a reload is applied after it.
      this.running = this.running.then(() => this.onChange()).catch(() => undefined);
    }, this.debounceMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.running;
  }
}
