/**
 * The Trash view: what was deleted in the workspace, newest first, with restore and delete
 * forever on each item (buttons, keyboard, context menu) and "Empty Trash".
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import {
  ReactWidget,
  deleteIcon,
  fileIcon,
  folderIcon,
  imageIcon,
  undoIcon
} from '@jupyterlab/ui-components';
import React from 'react';

import { TrashModel, formatSize, trashLabel, trashWhere } from '../trash';
import type { ITrashItem } from '../types';
import { useSignals } from './hooks';

/** A date as the trash shows it: `today 14:05`, `3 days ago`. */
export function formatWhen(iso: string, now = Date.now()): string {
  const then = Date.parse(iso);
  if (!Number.isFinite(then)) {
    return '';
  }
  const days = Math.floor((now - then) / 86_400_000);
  if (days < 1) {
    return `today ${new Date(then).toLocaleTimeString([], {
      hour: '2-digit',
      minute: '2-digit'
    })}`;
  }
  return days === 1 ? 'yesterday' : `${days} days ago`;
}

/** When an item will be erased, in words (or that it is kept until the trash is emptied). */
export function formatExpiry(item: ITrashItem, now = Date.now()): string {
  if (!item.expires) {
    return 'kept until the trash is emptied';
  }
  const days = Math.ceil((Date.parse(item.expires) - now) / 86_400_000);
  return days <= 1 ? 'erased within a day' : `erased in ${days} days`;
}

/** Ask before erasing for good; true when the user agreed. */
export async function confirmErase(what: string): Promise<boolean> {
  const answer = await showDialog({
    title: 'Delete Forever',
    body: `${what} will be erased from the disk. This cannot be undone.`,
    buttons: [
      Dialog.cancelButton(),
      Dialog.warnButton({ label: 'Delete Forever' })
    ]
  });
  return answer.button.accept;
}

function TrashRow(props: {
  model: TrashModel;
  item: ITrashItem;
}): React.ReactElement {
  const { model, item } = props;
  const icon =
    item.kind === 'asset'
      ? fileIcon
      : item.kind === 'take'
        ? imageIcon
        : folderIcon;
  const where = trashWhere(item);
  const erase = async (): Promise<void> => {
    if (await confirmErase(trashLabel(item))) {
      await model.erase(item.id);
    }
  };
  const details = [
    where ? `in ${where}` : null,
    item.takeCount && item.kind !== 'take'
      ? `${item.takeCount} take${item.takeCount === 1 ? '' : 's'}`
      : null,
    formatSize(item.size)
  ].filter(Boolean);
  return (
    <li
      className="gms-TrashItem"
      data-id={item.id}
      data-kind={item.kind}
      tabIndex={0}
      title={item.paths.join('\n') || undefined}
      onKeyDown={event => {
        if (event.target !== event.currentTarget) {
          return;
        }
        if (event.key === 'Enter') {
          event.preventDefault();
          void model.restore(item.id);
        } else if (event.key === 'Delete' || event.key === 'Backspace') {
          event.preventDefault();
          void erase();
        }
      }}
    >
      <icon.react className="gms-TrashItem-icon" tag="span" />
      <div className="gms-TrashItem-text">
        <div className="gms-TrashItem-name">{trashLabel(item)}</div>
        <div className="gms-TrashItem-meta">{details.join(' · ')}</div>
        <div className="gms-TrashItem-meta">
          deleted {formatWhen(item.deleted)}
          {item.deletedBy ? ` by ${item.deletedBy}` : ''} · {formatExpiry(item)}
        </div>
      </div>
      <div className="gms-TrashItem-actions">
        <button
          className="jp-mod-styled jp-mod-accept"
          disabled={model.acting}
          onClick={() => void model.restore(item.id)}
          title="Put it back where it was (Enter)"
        >
          <undoIcon.react tag="span" className="gms-ButtonIcon" /> Restore
        </button>
        <button
          className="jp-mod-styled"
          disabled={model.acting}
          onClick={() => void erase()}
          title="Erase it from the disk (Delete)"
        >
          <deleteIcon.react tag="span" className="gms-ButtonIcon" /> Delete
          Forever
        </button>
      </div>
    </li>
  );
}

function TrashList(props: {
  model: TrashModel;
  currentProject: () => string | null;
}): React.ReactElement {
  const { model, currentProject } = props;
  const { items, error, busy, acting, projectId, retentionDays } = useSignals(
    [model.changed],
    () => ({
      items: model.items,
      error: model.error,
      busy: model.busy,
      acting: model.acting,
      projectId: model.projectId,
      retentionDays: model.retentionDays
    })
  );
  const here = currentProject();
  const empty = async (): Promise<void> => {
    const what = projectId
      ? `Everything deleted from ${items[0]?.projectName ?? projectId}`
      : 'Everything in the trash';
    if (await confirmErase(what)) {
      await model.empty();
    }
  };
  const kept =
    retentionDays > 0
      ? `Deleted things are kept ${retentionDays} days, then erased.`
      : 'Deleted things are kept until the trash is emptied.';
  return (
    <div className="gms-Trash">
      <div className="gms-Trash-header">
        <div className="gms-Trash-scope" role="radiogroup" aria-label="Show">
          <label>
            <input
              type="radio"
              checked={projectId === null}
              onChange={() => (model.projectId = null)}
            />{' '}
            All projects
          </label>
          <label title={here ? undefined : 'Open a project first'}>
            <input
              type="radio"
              disabled={!here}
              checked={projectId !== null}
              onChange={() => (model.projectId = here)}
            />{' '}
            This project
          </label>
        </div>
        <span className="gms-Hint">{kept}</span>
        <button
          className="jp-mod-styled jp-mod-warn"
          disabled={acting || items.length === 0}
          onClick={() => void empty()}
        >
          Empty Trash
        </button>
      </div>
      {error ? (
        <div className="gms-Trash-error" role="alert">
          {error}
        </div>
      ) : null}
      {items.length === 0 ? (
        <div className="gms-Empty gms-mod-large">
          <deleteIcon.react className="gms-Empty-icon" tag="span" />
          <p className="gms-Empty-title">
            {busy ? 'Reading the trash…' : 'The trash is empty'}
          </p>
          <p>
            Deleted projects, chapters, scenes, shots, takes and assets wait
            here, with their files, until you restore them or erase them.
          </p>
        </div>
      ) : (
        <ul className="gms-Trash-list" aria-label="Deleted items">
          {items.map(item => (
            <TrashRow key={item.id} model={model} item={item} />
          ))}
        </ul>
      )}
    </div>
  );
}

/** The Trash view (shown in the main area). */
export class TrashView extends ReactWidget {
  /**
   * @param model - the trash model
   * @param currentProject - the open project's id, for "This project"
   */
  constructor(
    readonly model: TrashModel,
    private readonly currentProject: () => string | null
  ) {
    super();
    this.addClass('gms-Panel');
    this.addClass('gms-TrashView');
    this.node.dataset.testid = 'gms-trash';
    // re-render from the widget too, so a change right after the first render is never missed
    model.changed.connect(() => this.update(), this);
  }

  /** The item under a DOM node (for the context menu), if any. */
  itemAt(node: HTMLElement | null): ITrashItem | undefined {
    const id = node?.closest<HTMLElement>('.gms-TrashItem')?.dataset.id;
    return this.model.items.find(item => item.id === id);
  }

  protected onAfterShow(): void {
    void this.model.refresh();
  }

  protected onActivateRequest(): void {
    void this.model.refresh();
    this.node.querySelector<HTMLElement>('.gms-TrashItem')?.focus();
  }

  protected render(): React.ReactElement {
    return (
      <TrashList model={this.model} currentProject={this.currentProject} />
    );
  }
}
