import type { Logger } from 'pino';
import { formatDiagnostic } from '../config/diagnostics.js';
import { readConfigFiles, type SourceFile } from '../config/source.js';
import type { ChangeHandler } from '../service/watcher.js';
import { inChange } from '../telemetry/tracing.js';
import { ChangeHeldError, ConfigRejectedError, type ControlPlane } from './control.js';

/**
 * The operator's config path as a source of changes. A file edit is a change like any other:
 * validated, written to the store, then served; what cannot be applied is reported where `banyan
 * status` shows it, and the last good config keeps serving.
 */
export class FileEdits {
  constructor(
    private readonly configPath: string | undefined,
    private readonly control: ControlPlane,
    private readonly log: Logger,
  ) {}

  /** Brings the control plane up from the path (or from the store alone); an invalid first config stops start-up. */
  async start(): Promise<void> {
    try {
      await this.control.start(this.configPath ? await readConfigFiles(this.configPath) : undefined);
    } catch (err) {
      if (!(err instanceof ConfigRejectedError)) throw err;
      throw new Error(`config ${this.configPath} is invalid; not starting:\n${err.diagnostics.map((d) => '  ' + formatDiagnostic(d)).join('\n')}`);
    }
  }

  /**
   * Applies files read whole (by the watcher, or by reload); a rejection reports exactly those, not a
   * re-read. Never throws: every outcome is recorded or logged. The YAML unchanged, a secret file
   * (certificate, key, CA) that changed is served again as new Secret versions: no new config version,
   * since the store keeps YAML only and never key material. `extraFiles` tells the watcher which
   * secret files to follow besides the config path.
   */
  readonly apply: ChangeHandler = Object.assign(
    (files: SourceFile[]): Promise<void> => inChange('file.reload', async () => {
      try {
        const change = await this.control.apply(files, { author: 'file', message: `edited ${this.configPath}` }, 'file');
        if (change.unchanged) this.control.pipeline.refreshSecrets();
      } catch (err) {
        if (err instanceof ConfigRejectedError) this.control.pipeline.rejectFiles(files, err.diagnostics);
        else if (err instanceof ChangeHeldError) this.control.pipeline.holdFiles(files, err.findings);
        else this.log.error({ err }, `could not apply ${this.configPath}; last good config keeps serving`);
      }
    }),
    { extraFiles: (): readonly string[] => this.control.pipeline.current?.secretFiles ?? [] },
  );

  /** Re-reads the path now, as the watcher does after a burst of edits. */
  readonly reload = async (): Promise<void> => {
    if (!this.configPath) return;
    const files = await readConfigFiles(this.configPath).catch((err: Error) => void this.log.error({ err }, `could not read ${this.configPath}; last good config keeps serving`));
    if (files) await this.apply(files);
  };
}
