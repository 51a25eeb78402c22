/**
 * The Progress panel: running and recent generation tasks (progress, step, duration, cancel,
 * retry) and uploads, in collapsible sections.
 */
import {
  ReactWidget,
  caretDownIcon,
  caretRightIcon,
  Toolbar
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useState } from 'react';

import { findNode, takeLabel } from '../hierarchy';
import { isFileTask } from '../model';
import type { StudioModel } from '../model';
import { progressIcon } from '../icons';
import { CommandIDs, WidgetIDs } from '../tokens';
import { ITaskRecord, STATUS_LABELS, isFinished } from '../types';
import { UploadRow } from './assetItem';
import { useSignals, useTicker } from './hooks';
import { StatusBanner } from './statusBanner';

/** How many finished tasks the panel keeps showing (until "Show older" asks for more). */
export const RECENT_LIMIT = 20;
/** How many more finished tasks each "Show older" shows. */
export const OLDER_STEP = 50;

/**
 * Running tasks first (oldest first), then finished ones (newest first), at most `limit` of
 * those; `finished` counts every finished task known.
 */
export function orderTasks(
  tasks: Iterable<ITaskRecord>,
  limit = RECENT_LIMIT
): { active: ITaskRecord[]; recent: ITaskRecord[]; finished: number } {
  const all = [...tasks].filter(task => !isFileTask(task));
  const active = all
    .filter(task => !isFinished(task.status))
    .sort((a, b) => a.created.localeCompare(b.created));
  const done = all
    .filter(task => isFinished(task.status))
    .sort((a, b) =>
      (b.finished ?? b.created).localeCompare(a.finished ?? a.created)
    );
  return { active, recent: done.slice(0, limit), finished: done.length };
}

/**
 * What a task's row says under its bar: the pipeline's step while it runs, and once it is over
 * one word for how it ended (the same words as the tree and the take tiles), with the reason of
 * a failure; never the last step it reached.
 */
export function taskState(task: ITaskRecord): string {
  switch (task.status) {
    case 'completed':
      return STATUS_LABELS.completed;
    case 'cancelled':
      return STATUS_LABELS.cancelled;
    case 'error':
      return task.error
        ? `${STATUS_LABELS.error}: ${task.error}`
        : STATUS_LABELS.error;
    case 'pending':
      return task.step && task.step !== 'queued'
        ? task.step
        : STATUS_LABELS.pending;
    default:
      return task.step || STATUS_LABELS[task.status] || task.status;
  }
}

/** A duration in ms as `1:05` or `12s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return '<1s';
  }
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) {
    return `${seconds}s`;
  }
  const minutes = Math.floor(seconds / 60);
  const rest = String(seconds % 60).padStart(2, '0');
  return minutes < 60
    ? `${minutes}:${rest}`
    : `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}`;
}

function TaskRow(props: {
  model: StudioModel;
  commands: CommandRegistry;
  task: ITaskRecord;
}): React.ReactElement {
  const { model, commands, task } = props;
  const running = !isFinished(task.status);
  useTicker(running);
  const project = model.projects.current;
  const node = findNode(project, task.nodeId);
  // an export of the whole film is made for the project itself
  const name =
    node?.name ?? (task.nodeId === project?.id ? project.name : task.nodeId);
  const start = Date.parse(task.started ?? task.created);
  const end = task.finished ? Date.parse(task.finished) : Date.now();
  const duration = Number.isFinite(start) ? formatDuration(end - start) : '';
  const percent = Math.round(task.progress * 100);
  const take =
    task.takeId && node?.shot
      ? node.shot.takes.find(candidate => candidate.id === task.takeId)
      : undefined;
  const meta = [
    take && node?.shot ? takeLabel(node.shot, take) : null,
    task.pipeline || null
  ].filter(Boolean);
  return (
    <li
      className={`gms-Task gms-mod-${task.status}`}
      data-testid="gms-task"
      data-task-id={task.taskId}
      data-status={task.status}
      data-node-id={task.nodeId}
    >
      <div className="gms-Task-head">
        <button
          className="gms-Task-title"
          title="Show the shot"
          onClick={() =>
            node && model.selection.select({ kind: node.kind, id: node.id })
          }
        >
          {name}
        </button>
        <span className="gms-Task-duration">{duration}</span>
      </div>
      {meta.length > 0 ? (
        <div className="gms-Task-meta">{meta.join(' · ')}</div>
      ) : null}
      <div className="gms-Task-bar">
        <progress
          className="gms-ProgressBar"
          max={1}
          value={task.status === 'completed' ? 1 : task.progress}
          aria-label={`Progress of ${name}`}
          aria-valuenow={percent}
        />
        <span className="gms-Task-percent">{percent}%</span>
      </div>
      <div className="gms-Task-foot">
        <span
          className="gms-Task-step"
          data-testid="gms-task-step"
          title={taskState(task)}
        >
          {taskState(task)}
        </span>
        {running ? (
          <button
            className="jp-Button jp-mod-minimal gms-TextButton"
            data-testid="gms-task-cancel"
            onClick={() =>
              void model.tasks.cancel(task.taskId).catch(() => undefined)
            }
          >
            Cancel
          </button>
        ) : null}
        {task.status === 'error' || task.status === 'cancelled' ? (
          <button
            className="jp-Button jp-mod-minimal gms-TextButton"
            data-testid="gms-task-retry"
            onClick={() =>
              void model.tasks.retry(task.taskId).catch(() => undefined)
            }
          >
            Retry
          </button>
        ) : null}
        {take && (take.status === 'error' || take.status === 'cancelled') ? (
          <button
            className="jp-Button jp-mod-minimal gms-TextButton"
            data-testid="gms-task-dismiss"
            title="Move the failed take to the trash"
            onClick={() =>
              void commands.execute(CommandIDs.dismissTake, {
                nodeId: take.id
              })
            }
          >
            Dismiss
          </button>
        ) : null}
      </div>
    </li>
  );
}

function Section(props: {
  title: string;
  count: number;
  testId: string;
  children: React.ReactNode;
  actions?: React.ReactNode;
}): React.ReactElement {
  const [open, setOpen] = useState(true);
  return (
    <section className="gms-Section" data-testid={props.testId}>
      <header className="gms-Section-header">
        <button
          className="gms-Section-toggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? (
            <caretDownIcon.react tag="span" />
          ) : (
            <caretRightIcon.react tag="span" />
          )}
          {props.title}
          <span className="gms-Section-count">{props.count}</span>
        </button>
        {props.actions}
      </header>
      {open ? props.children : null}
    </section>
  );
}

function ProgressView(props: {
  model: StudioModel;
  commands: CommandRegistry;
}): React.ReactElement {
  const { model, commands } = props;
  const { tasks, uploads, connection } = useSignals(
    [
      model.tasks.changed,
      model.uploads.changed,
      model.connection.stateChanged,
      model.projects.currentChanged
    ],
    () => ({
      tasks: model.tasks.all,
      uploads: model.uploads.all,
      connection: model.connection.state
    })
  );
  const [limit, setLimit] = React.useState(RECENT_LIMIT);
  const { active, recent, finished } = orderTasks(tasks.values(), limit);
  const olderKnown = finished > recent.length;
  const canShowOlder = olderKnown || model.tasks.hasOlder;
  const showOlder = (): void => {
    setLimit(current => current + OLDER_STEP);
    if (finished < limit + OLDER_STEP) {
      void model.tasks.loadOlder().catch(error => {
        console.warn('gms: cannot read older tasks', error);
      });
    }
  };
  const finishedUploads = uploads.some(
    u => u.status !== 'uploading' && u.status !== 'queued'
  );
  return (
    <div className="gms-Panel">
      <StatusBanner model={model} showMinor />
      <div className="gms-Panel-body">
        <Section
          title="Running"
          count={active.length}
          testId="gms-tasks-running"
          actions={
            <span
              className={`gms-Connection gms-mod-${connection}`}
              data-testid="gms-connection"
              data-state={connection}
              title={`Live updates: ${connection}`}
            />
          }
        >
          {active.length === 0 ? (
            <div className="gms-Empty">No generation running.</div>
          ) : (
            <ul className="gms-TaskList">
              {active.map(task => (
                <TaskRow
                  key={task.taskId}
                  model={model}
                  commands={commands}
                  task={task}
                />
              ))}
            </ul>
          )}
        </Section>
        <Section
          title="Recent"
          count={recent.length}
          testId="gms-tasks-recent"
          actions={
            recent.length > 0 ? (
              <button
                className="jp-Button jp-mod-minimal gms-TextButton"
                data-testid="gms-tasks-clear"
                title="Clear the finished tasks from this list (their takes stay)"
                onClick={() => model.tasks.clearFinished()}
              >
                Clear
              </button>
            ) : null
          }
        >
          {recent.length === 0 ? (
            <div className="gms-Empty">Nothing finished yet.</div>
          ) : (
            <ul className="gms-TaskList">
              {recent.map(task => (
                <TaskRow
                  key={task.taskId}
                  model={model}
                  commands={commands}
                  task={task}
                />
              ))}
            </ul>
          )}
          {canShowOlder ? (
            <button
              className="jp-Button jp-mod-minimal gms-TextButton gms-ShowOlder"
              data-testid="gms-tasks-older"
              title="The project's history is read a page at a time"
              onClick={showOlder}
            >
              Show Older Tasks
            </button>
          ) : null}
        </Section>
        <Section
          title="Uploads"
          count={uploads.length}
          testId="gms-uploads"
          actions={
            finishedUploads ? (
              <button
                className="jp-Button jp-mod-minimal gms-TextButton"
                onClick={() => model.uploads.clearFinished()}
              >
                Clear
              </button>
            ) : null
          }
        >
          {uploads.length === 0 ? (
            <div className="gms-Empty">No uploads.</div>
          ) : (
            uploads.map(upload => (
              <UploadRow key={upload.id} model={model} upload={upload} />
            ))
          )}
        </Section>
      </div>
    </div>
  );
}

/**
 * The Progress side panel.
 */
export class ProgressPanel extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (dismiss a take)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = WidgetIDs.progress;
    this.addClass('gms-ProgressPanel');
    this.node.dataset.testid = 'gms-progress';
    this.title.icon = progressIcon;
    this.title.label = 'Progress';
    this.title.caption = 'Generations running and done, and uploads';
  }

  /** The section's title-bar buttons (none yet; the sections inside have theirs). */
  readonly toolbar = new Toolbar();

  protected render(): React.ReactElement {
    return <ProgressView model={this.model} commands={this.commands} />;
  }
}
