/**
 * What the studio remembers for the user between page loads: the pipeline and parameters last
 * used per shot (the Generate dialog starts from them), and when Recent was last cleared.
 */
import type { JSONRecord } from '../types';

/** Where the memory is kept: JupyterLab's `IStateDB` in the lab, anything like it in tests. */
export interface IStateStore {
  fetch(key: string): Promise<unknown>;
  save(key: string, value: never): Promise<unknown>;
}

/** The pipeline and the parameters a take of a shot was last asked with. */
export interface IGenerationChoice {
  pipeline: string;
  parameters: JSONRecord;
}

/** Parameters that come from the shot itself: never remembered, always the shot's. */
export const SHOT_PARAMETERS: ReadonlySet<string> = new Set([
  'prompt',
  'negative_prompt',
  'style',
  'init_image'
]);

/** The key of the memory in the state store. */
export const MEMORY_KEY = 'gms-lab:memory';

/** How many shots' choices are kept (the oldest are forgotten first). */
const KEPT_CHOICES = 500;

interface IMemory {
  generation: { [shotId: string]: IGenerationChoice };
  cleared: { [projectId: string]: string };
}

/** The user's small memory, saved on every change. */
export class StudioMemory {
  /**
   * @param store - where to keep it; without one it lasts as long as the page
   */
  constructor(store: IStateStore | null = null) {
    this._store = store;
  }

  /** Read what was kept (once, at start). */
  async load(): Promise<void> {
    const kept = (await this._store?.fetch(MEMORY_KEY).catch(() => null)) as
      Partial<IMemory> | null | undefined;
    if (kept && typeof kept === 'object') {
      this._memory = {
        generation: { ...(kept.generation ?? {}), ...this._memory.generation },
        cleared: { ...(kept.cleared ?? {}), ...this._memory.cleared }
      };
    }
  }

  /** What a take of `shotId` was last asked with (the shot's own fields left out). */
  generationOf(shotId: string): IGenerationChoice | null {
    return this._memory.generation[shotId] ?? null;
  }

  /** Remember what a take of `shotId` was asked with. */
  rememberGeneration(shotId: string, choice: IGenerationChoice): void {
    const parameters: JSONRecord = {};
    for (const [name, value] of Object.entries(choice.parameters)) {
      if (!SHOT_PARAMETERS.has(name)) {
        parameters[name] = value;
      }
    }
    const generation = { ...this._memory.generation };
    delete generation[shotId];
    generation[shotId] = { pipeline: choice.pipeline, parameters };
    const ids = Object.keys(generation);
    for (const old of ids.slice(0, Math.max(0, ids.length - KEPT_CHOICES))) {
      delete generation[old];
    }
    this._memory = { ...this._memory, generation };
    this._save();
  }

  /** When the project's Recent tasks were last cleared (ISO time), if ever. */
  clearedBefore(projectId: string): string | null {
    return this._memory.cleared[projectId] ?? null;
  }

  /** Remember that the project's Recent tasks were cleared at `time`. */
  setClearedBefore(projectId: string, time: string): void {
    this._memory = {
      ...this._memory,
      cleared: { ...this._memory.cleared, [projectId]: time }
    };
    this._save();
  }

  private _save(): void {
    void this._store
      ?.save(MEMORY_KEY, this._memory as never)
      .catch(reason => console.warn('gms: cannot keep the memory', reason));
  }

  private _store: IStateStore | null;
  private _memory: IMemory = { generation: {}, cleared: {} };
}
