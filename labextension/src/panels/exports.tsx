/**
 * Exports for editors (`06_Exports/`): the Asset Browser's Exports section (kind, date, source,
 * download) and the Studio's Export tab, where an animatic plays and boards are shown.
 */
import {
  caretDownIcon,
  caretRightIcon,
  downloadIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useState } from 'react';

import { iconForMedia } from '../icons';
import type { StudioModel } from '../model';
import { formatBytes } from '../model';
import { CommandIDs } from '../tokens';
import { EXPORT_KINDS, ExportInfo, exportLabel } from '../types';
import { useSignals } from './hooks';

/** When an export was made, in the user's locale. */
export function formatWhen(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleString(undefined, {
        dateStyle: 'medium',
        timeStyle: 'short'
      });
}

/** Where an export comes from: "Scene Dawn", "Chapter Act 1", "Film", or "—" for a file. */
export function exportSource(item: ExportInfo): string {
  if (!item.scopeKind) {
    return '—';
  }
  if (item.scopeKind === 'film') {
    return `Film ${item.scopeName ?? ''}`.trim();
  }
  const kind = item.scopeKind[0].toUpperCase() + item.scopeKind.slice(1);
  return `${kind} ${item.scopeName ?? item.scope ?? ''}`.trim();
}

/** The file name of a project-relative path. */
function baseName(path: string): string {
  return path.split('/').pop() ?? path;
}

/** The absolute download URL of a project file (`?download=1`: an attachment). */
function downloadUrl(model: StudioModel, path: string): string {
  return `${model.fileUrl(path)}?download=1`;
}

function ExportRow(props: {
  model: StudioModel;
  commands: CommandRegistry;
  item: ExportInfo;
  selected: boolean;
}): React.ReactElement {
  const { model, commands, item, selected } = props;
  const open = (): void => {
    void commands.execute(CommandIDs.openExport, { path: item.path });
  };
  const Icon = iconForMedia(item.kind === 'animatic' ? 'video' : 'document');
  return (
    <li
      className={'gms-ExportRow' + (selected ? ' gms-mod-selected' : '')}
      data-testid="gms-export-row"
      data-kind={item.kind}
      data-path={item.path}
      tabIndex={0}
      title={`${item.path} — ${formatBytes(item.size)}`}
      onClick={() => model.selection.select({ kind: 'export', id: item.path })}
      onDoubleClick={open}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          open();
        }
      }}
    >
      <Icon.react tag="span" className="gms-ExportRow-icon" />
      <span className="gms-ExportRow-text">
        <span className="gms-ExportRow-title">
          <span className="gms-Badge" data-testid="gms-export-kind">
            {exportLabel(item.kind)}
          </span>{' '}
          {exportSource(item)}
        </span>
        <span className="gms-ExportRow-meta">
          {formatWhen(item.created)} · {formatBytes(item.size)}
          {item.gaps?.length ? ` · ${item.gaps.length} gap(s)` : ''}
        </span>
      </span>
      <a
        className="jp-Button jp-mod-minimal gms-IconButton"
        href={downloadUrl(model, item.path)}
        download={baseName(item.path)}
        title={`Download ${baseName(item.path)}`}
        data-testid="gms-export-download"
        onClick={event => event.stopPropagation()}
      >
        <downloadIcon.react tag="span" />
      </a>
    </li>
  );
}

/** The Asset Browser's Exports section: what was handed to an editor, newest first. */
export function ExportsSection(props: {
  model: StudioModel;
  commands: CommandRegistry;
}): React.ReactElement {
  const { model, commands } = props;
  const { list, selection } = useSignals(
    [model.exports.changed, model.selection.changed],
    () => ({
      list: model.exports.list,
      selection: model.selection.current
    })
  );
  const [open, setOpen] = useState(true);
  const items = list ?? [];
  const selectedPath = selection?.kind === 'export' ? selection.id : null;
  return (
    <section className="gms-AssetCategory" data-testid="gms-exports">
      <header className="gms-AssetCategory-header">
        <button
          className="gms-AssetCategory-toggle"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? (
            <caretDownIcon.react tag="span" />
          ) : (
            <caretRightIcon.react tag="span" />
          )}
          <span className="gms-AssetCategory-title">Exports</span>
          <span className="gms-AssetCategory-count">{items.length}</span>
        </button>
      </header>
      {open ? (
        items.length === 0 ? (
          <div className="gms-AssetCategory-empty">
            Nothing exported yet: right-click a scene, a chapter or the project
            → Export.
          </div>
        ) : (
          <ul className="gms-ExportList">
            {items.map(item => (
              <ExportRow
                key={item.path}
                model={model}
                commands={commands}
                item={item}
                selected={item.path === selectedPath}
              />
            ))}
          </ul>
        )
      ) : null}
    </section>
  );
}

/** What an export is: its kind, source, date, shots, gaps, files (each downloadable) and size. */
function ExportFacts(props: {
  model: StudioModel;
  item: ExportInfo;
}): React.ReactElement {
  const { model, item } = props;
  return (
    <dl className="gms-Info">
      <dt>Export</dt>
      <dd>{exportLabel(item.kind)}</dd>
      <dt>Of</dt>
      <dd>{exportSource(item)}</dd>
      <dt>Made</dt>
      <dd>{formatWhen(item.created)}</dd>
      {item.shots !== null && item.shots !== undefined ? (
        <>
          <dt>Shots</dt>
          <dd>
            {item.shots} · {item.duration ?? 0} s at {item.fps ?? '?'} fps
          </dd>
        </>
      ) : null}
      {item.gaps?.length ? (
        <>
          <dt>No picture</dt>
          <dd data-testid="gms-export-gaps">
            {item.gaps.map(g => `${g.name} (${g.duration} s)`).join(', ')}
          </dd>
        </>
      ) : null}
      <dt>Files</dt>
      <dd>
        {(item.files?.length ? item.files : [item.path]).map(file => (
          <div key={file}>
            <a
              href={downloadUrl(model, file)}
              download={baseName(file)}
              data-testid="gms-export-file"
            >
              {baseName(file)}
            </a>
          </div>
        ))}
      </dd>
      <dt>Size</dt>
      <dd>{formatBytes(item.size)}</dd>
    </dl>
  );
}

/**
 * The Inspector's view of a selected export: its facts, and the actions on it — play or show it
 * in the Studio, and make it again from the story as it is now (same kind, same scene, chapter
 * or film), which the notice of the new one then offers to play.
 */
export function ExportDetails(props: {
  model: StudioModel;
  commands: CommandRegistry;
  path: string;
}): React.ReactElement {
  const { model, commands, path } = props;
  const item = model.exports.byPath(path);
  if (!item) {
    return (
      <div className="gms-Empty">This export is no longer in 06_Exports.</div>
    );
  }
  const project = model.projects.current;
  // the film's exports are made again from the project; others from their scene or chapter
  const nodeId = item.scopeKind === 'film' ? (project?.id ?? null) : item.scope;
  const again = { kind: item.kind, nodeId };
  const canAgain =
    nodeId !== null &&
    nodeId !== undefined &&
    item.kind !== 'other' &&
    commands.isEnabled(CommandIDs.exportScope, again);
  return (
    <div className="gms-Details" data-testid="gms-export-details">
      <ExportFacts model={model} item={item} />
      <div className="gms-Form-actions gms-mod-stacked">
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="gms-inspector-open-export"
          onClick={() =>
            void commands.execute(CommandIDs.openExport, { path: item.path })
          }
        >
          {item.kind === 'animatic'
            ? 'Play in the Studio'
            : 'Show in the Studio'}
        </button>
        <button
          className="jp-mod-styled"
          data-testid="gms-inspector-export-again"
          disabled={!canAgain}
          title={
            canAgain
              ? `Export ${exportLabel(item.kind)} of ${exportSource(item)} again, as the story is now`
              : 'Its scene or chapter is no longer in the project'
          }
          onClick={() => void commands.execute(CommandIDs.exportScope, again)}
        >
          Export Again
        </button>
      </div>
    </div>
  );
}

/** The Studio's Export tab: the selected export played or shown, its facts and its files. */
export function ExportTab(props: { model: StudioModel }): React.ReactElement {
  const { model } = props;
  const { selection } = useSignals(
    [model.selection.changed, model.exports.changed],
    () => ({ selection: model.selection.current })
  );
  const item =
    selection?.kind === 'export' ? model.exports.byPath(selection.id) : null;
  if (!item) {
    return (
      <div
        className="gms-Empty"
        data-testid="gms-export-view"
        data-empty="true"
      >
        Open an export from the Asset Browser's Exports section to play or see
        it here.
      </div>
    );
  }
  const url = model.fileUrl(item.path);
  const png = (item.files ?? []).find(f => f.endsWith('.png'));
  // the file changes in place when exported again: its date keeps the player current
  const version = `?v=${encodeURIComponent(item.created)}`;
  return (
    <div
      className="gms-AssetPreview"
      data-testid="gms-export-view"
      data-path={item.path}
      data-kind={item.kind}
    >
      <div className="gms-AssetPreview-media">
        {item.kind === 'animatic' ? (
          <video
            className="gms-ExportPlayer"
            data-testid="gms-export-player"
            src={url + version}
            controls
            autoPlay
            muted
            playsInline
          />
        ) : item.kind === 'boards' && png ? (
          <img
            className="gms-ExportBoards"
            src={model.fileUrl(png) + version}
            alt={`Storyboard sheet of ${item.scopeName ?? ''}`}
          />
        ) : (
          <div className="gms-Empty">
            {exportLabel(item.kind)}: open it in an editing application.
          </div>
        )}
      </div>
      <ExportFacts model={model} item={item} />
    </div>
  );
}

/**
 * The Inspector's Export section for the film, a chapter or a scene: one button per kind, each
 * running the same export command as the context menu and the palette.
 */
export function ExportActions(props: {
  commands: CommandRegistry;
  nodeId: string;
  scopeName: string;
}): React.ReactElement {
  const { commands, nodeId, scopeName } = props;
  return (
    <section className="gms-ExportActions" aria-label="Export">
      <h4>Export</h4>
      <div className="gms-ExportActions-buttons">
        {EXPORT_KINDS.map(({ kind, label }) => (
          <button
            key={kind}
            type="button"
            className="jp-Button jp-mod-minimal gms-TextButton"
            data-testid={`gms-inspector-export-${kind}`}
            title={`Export ${label} of ${scopeName} to 06_Exports`}
            onClick={() =>
              void commands.execute(CommandIDs.exportScope, { kind, nodeId })
            }
          >
            {label}
          </button>
        ))}
      </div>
    </section>
  );
}
