/**
 * Whether the server and the tools behind it answer: reads the workspace config (which carries
 * the health of git, Redis, the worker and Docker) on a timer, sooner while something is wrong.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IStudioAPI, StudioAPIError } from '../api';
import type { ITimers } from '../socket';
import type { IWorkspaceConfig } from '../types';

/** Whether the server and the tools behind it answer. */
export interface IHealth {
  /** False when the server itself cannot be reached. */
  reachable: boolean;
  /** Tools that report a problem, e.g. `{tool: 'redis', message: 'connection refused'}`. */
  problems: { tool: string; message: string }[];
}

/** Tools whose failure stops generation; the others only degrade it. */
export const CRITICAL_TOOLS = new Set(['redis', 'worker']);

/** Options of a `HealthMonitor`. */
export interface IHealthMonitorOptions {
  /** The REST client. */
  api: IStudioAPI;
  /** The clock of the polling. */
  timers: ITimers;
  /** How often to re-check while all is well, and while it is not (ms). */
  intervalMs: { healthy: number; unhealthy: number };
  /**
   * Called when the server comes back, or a critical tool recovers: re-read what may have moved
   * meanwhile. `refresh()` waits for it.
   */
  onRecovered?: () => Promise<void>;
}

/** The workspace config and the health of the server and its tools. */
export class HealthMonitor {
  /**
   * @param options - the REST client, the clock and the polling intervals
   */
  constructor(options: IHealthMonitorOptions) {
    this._api = options.api;
    this._timers = options.timers;
    this._interval = options.intervalMs;
    this._onRecovered = options.onRecovered ?? (() => Promise.resolve());
  }

  /** Emitted when the workspace config is re-read. */
  get configChanged(): ISignal<this, IWorkspaceConfig | null> {
    return this._configChanged;
  }

  /** Emitted when the server's reachability or a tool's health changes. */
  get changed(): ISignal<this, IHealth> {
    return this._changed;
  }

  /** The workspace config, once read. */
  get config(): IWorkspaceConfig | null {
    return this._config;
  }

  /** Whether the server and its tools answer. */
  get state(): IHealth {
    return this._state;
  }

  /**
   * Re-read the workspace config and with it the tools' health. Schedules the next check and,
   * when the server is back from an outage, calls `onRecovered`.
   */
  async refresh(): Promise<void> {
    this._timers.clearTimeout(this._timer);
    const wasReachable = this._state.reachable;
    const hadCritical = this._hasCritical();
    try {
      const config = await this._api.getWorkspaceConfig();
      this._config = config;
      this._configChanged.emit(config);
      const problems = Object.entries(config.health ?? {})
        // ComfyUI is a problem only for a studio pointed at one; the banner says more
        // while a ComfyUI take needs it
        .filter(
          ([tool, health]) =>
            !health.ok && (tool !== 'comfyui' || config.comfyuiConfigured)
        )
        .map(([tool, health]) => ({
          tool,
          message: health.message || 'not available'
        }));
      this._set({ reachable: true, problems });
    } catch (error) {
      const unreachable =
        error instanceof StudioAPIError
          ? error.isNetwork || error.status >= 500
          : true;
      this._set({
        reachable: !unreachable,
        problems: unreachable
          ? []
          : [{ tool: 'server', message: (error as Error).message }]
      });
    }
    if (this._isDisposed) {
      return;
    }
    const healthy = this._state.reachable && this._state.problems.length === 0;
    this._timer = this._timers.setTimeout(
      () => void this.refresh(),
      healthy ? this._interval.healthy : this._interval.unhealthy
    );
    if (
      (!wasReachable && this._state.reachable) ||
      (hadCritical && !this._hasCritical())
    ) {
      await this._onRecovered();
    }
  }

  /** Stop polling and disconnect every listener. */
  dispose(): void {
    this._isDisposed = true;
    this._timers.clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _hasCritical(): boolean {
    return this._state.problems.some(p => CRITICAL_TOOLS.has(p.tool));
  }

  private _set(state: IHealth): void {
    const same =
      state.reachable === this._state.reachable &&
      JSON.stringify(state.problems) === JSON.stringify(this._state.problems);
    if (!same) {
      this._state = state;
      this._changed.emit(state);
    }
  }

  private _api: IStudioAPI;
  private _timers: ITimers;
  private _interval: { healthy: number; unhealthy: number };
  private _onRecovered: () => Promise<void>;
  private _config: IWorkspaceConfig | null = null;
  private _state: IHealth = { reachable: true, problems: [] };
  private _timer: unknown = null;
  private _isDisposed = false;
  private _configChanged = new Signal<this, IWorkspaceConfig | null>(this);
  private _changed = new Signal<this, IHealth>(this);
}
