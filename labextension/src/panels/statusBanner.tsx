/**
 * The banner every panel shows while the server, its tools or the event socket are not well.
 */
import React from 'react';

import type { StudioModel } from '../model';
import { CRITICAL_TOOLS } from '../model';
import { useSignals } from './hooks';

/** Human names of the tools the workspace config reports on. */
const TOOL_NAMES: { [tool: string]: string } = {
  redis: 'Redis',
  worker: 'Worker',
  git: 'Git',
  gitLfs: 'Git LFS',
  docker: 'Docker',
  comfyui: 'ComfyUI',
  server: 'Server'
};

/**
 * What to say about ComfyUI, or null: said when it does not answer and it matters — the
 * studio was pointed at one (`comfyui_url` set), or a ComfyUI take waits or runs.
 */
export function comfyuiTrouble(model: StudioModel): string | null {
  const config = model.health.config;
  const health = config?.health?.comfyui;
  if (!health || health.ok) {
    return null;
  }
  const busy = [...model.tasks.all.values()].some(
    task =>
      task.pipeline === 'comfyui' &&
      (task.status === 'pending' || task.status === 'running')
  );
  if (!busy && !config?.comfyuiConfigured) {
    return null;
  }
  return health.message || `No ComfyUI answers at ${config?.comfyuiUrl ?? ''}`;
}

/** Props of the status banner. */
export interface IStatusBannerProps {
  model: StudioModel;
  /** Whether to mention the event socket (only panels that show live data need to). */
  showConnection?: boolean;
  /**
   * Whether to list optional tools that are unavailable (e.g. Docker when pipelines can run as
   * local processes); one panel showing them is enough.
   */
  showMinor?: boolean;
}

/**
 * Nothing when all is well; otherwise what is wrong and that the studio is retrying by itself.
 */
export function StatusBanner(
  props: IStatusBannerProps
): React.ReactElement | null {
  const { model, showConnection = true, showMinor = false } = props;
  const { health, connection, projectId, comfyui } = useSignals(
    [
      model.health.changed,
      model.health.configChanged,
      model.connection.stateChanged,
      model.projects.currentChanged,
      model.tasks.changed
    ],
    () => ({
      health: model.health.state,
      connection: model.connection.state,
      projectId: model.projects.id,
      comfyui: comfyuiTrouble(model)
    })
  );
  if (!health.reachable) {
    return (
      <div
        className="gms-StatusBanner gms-mod-error"
        role="alert"
        data-testid="gms-status-banner"
        data-state="unreachable"
      >
        The Jupyter server cannot be reached. Retrying…
      </div>
    );
  }
  const critical = health.problems.filter(problem =>
    CRITICAL_TOOLS.has(problem.tool)
  );
  // Without Docker, pipelines run as local processes: only worth a word when the server was
  // told to use Docker.
  const runner = model.health.config?.runner;
  const minor = health.problems.filter(
    problem =>
      !CRITICAL_TOOLS.has(problem.tool) &&
      problem.tool !== 'comfyui' &&
      (problem.tool !== 'docker' || runner === 'docker')
  );
  const lines: React.ReactElement[] = [];
  for (const problem of critical) {
    lines.push(
      <div key={problem.tool}>
        {TOOL_NAMES[problem.tool] ?? problem.tool} is down ({problem.message}):
        generation is paused. Retrying…
      </div>
    );
  }
  if (comfyui && critical.length === 0) {
    lines.push(
      <div key="comfyui" data-tool="comfyui">
        ComfyUI is unavailable: {comfyui} ComfyUI takes cannot run until it
        answers. Retrying…
      </div>
    );
  }
  if (
    showConnection &&
    projectId &&
    connection !== 'open' &&
    critical.length === 0
  ) {
    lines.push(
      <div key="socket">
        {connection === 'connecting'
          ? 'Connecting to live updates…'
          : 'Live updates lost. Reconnecting…'}
      </div>
    );
  }
  if (lines.length > 0) {
    return (
      <div
        className="gms-StatusBanner gms-mod-warning"
        role="status"
        data-testid="gms-status-banner"
        data-state={
          critical.length > 0
            ? 'degraded'
            : comfyui && lines.length === 1
              ? 'comfyui'
              : 'reconnecting'
        }
      >
        {lines}
      </div>
    );
  }
  if (showMinor && minor.length > 0) {
    return (
      <div
        className="gms-StatusBanner gms-mod-info"
        role="status"
        data-testid="gms-status-banner"
        data-state="minor"
        title={minor
          .map(p => `${TOOL_NAMES[p.tool] ?? p.tool}: ${p.message}`)
          .join('\n')}
      >
        Unavailable: {minor.map(p => TOOL_NAMES[p.tool] ?? p.tool).join(', ')}
      </div>
    );
  }
  return null;
}
