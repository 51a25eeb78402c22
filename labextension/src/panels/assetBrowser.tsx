/**
 * The Asset Browser: the project's library in four categories, with thumbnails and folders; files
 * dropped from the desktop (or picked) are uploaded into the category they land on.
 */
import {
  ReactWidget,
  caretDownIcon,
  caretRightIcon,
  fileUploadIcon,
  folderIcon,
  refreshIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { assetsIcon, iconForMedia } from '../icons';
import type { IUploadState, StudioModel } from '../model';
import { formatBytes } from '../model';
import { ASSET_MIME, CommandIDs, WidgetIDs } from '../tokens';
import { Asset, CATEGORY_KEYS, CATEGORY_LABELS, CategoryKey } from '../types';
import { ExportsSection } from './exports';
import { useSignals } from './hooks';
import { StatusBanner } from './statusBanner';

/** The payload of an asset dragged out of the browser (`application/x-gms-asset`). */
export interface IAssetDragPayload {
  projectId: string;
  path: string;
  name: string;
  category: string;
  kind: Asset['kind'];
  url: string;
}

/** Assets grouped by folder, the category's root ('') first. */
export function groupByFolder(assets: readonly Asset[]): [string, Asset[]][] {
  const groups = new Map<string, Asset[]>();
  for (const asset of assets) {
    const folder = asset.folder ?? '';
    groups.set(folder, [...(groups.get(folder) ?? []), asset]);
  }
  return [...groups.entries()].sort(([a], [b]) =>
    a === '' ? -1 : b === '' ? 1 : a.localeCompare(b)
  );
}

/** Whether a drag carries files from the desktop. */
function hasFiles(event: React.DragEvent): boolean {
  return Array.from(event.dataTransfer.types).includes('Files');
}

interface IAssetItemProps {
  model: StudioModel;
  commands: CommandRegistry;
  asset: Asset;
  category: CategoryKey;
  selected: boolean;
}

function AssetItem(props: IAssetItemProps): React.ReactElement {
  const { model, commands, asset, category, selected } = props;
  const [broken, setBroken] = useState(false);
  const Icon = iconForMedia(asset.kind);
  // Until the server has made a thumbnail, an image is its own (the browser scales it down).
  const picture =
    asset.thumbnail ?? (asset.kind === 'image' ? asset.url : null);
  const open = (): void => {
    void commands.execute(CommandIDs.previewAsset, { path: asset.path });
  };
  return (
    <li
      className={'gms-AssetItem' + (selected ? ' gms-mod-selected' : '')}
      data-testid="gms-asset-item"
      data-path={asset.path}
      data-kind={asset.kind}
      tabIndex={0}
      title={`${asset.name} — ${formatBytes(asset.size)}`}
      draggable
      onClick={() => model.selection.select({ kind: 'asset', id: asset.path })}
      onDoubleClick={open}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          event.preventDefault();
          open();
        }
      }}
      onDragStart={event => {
        const payload: IAssetDragPayload = {
          projectId: model.projects.id ?? '',
          path: asset.path,
          name: asset.name,
          category,
          kind: asset.kind,
          url: model.resolveUrl(asset.url)
        };
        event.dataTransfer.setData(ASSET_MIME, JSON.stringify(payload));
        event.dataTransfer.setData('text/plain', asset.path);
        event.dataTransfer.effectAllowed = 'copy';
      }}
    >
      <div className="gms-AssetItem-thumb">
        {picture && !broken ? (
          <img
            src={model.resolveUrl(picture)}
            alt=""
            loading="lazy"
            draggable={false}
            onError={() => setBroken(true)}
          />
        ) : (
          <Icon.react tag="span" className="gms-AssetItem-icon" />
        )}
      </div>
      <div className="gms-AssetItem-name">{asset.name}</div>
    </li>
  );
}

interface IUploadRowProps {
  model: StudioModel;
  upload: IUploadState;
}

/** One upload's progress line. */
export function UploadRow(props: IUploadRowProps): React.ReactElement {
  const { model, upload } = props;
  const fraction = upload.total > 0 ? upload.loaded / upload.total : 0;
  const active = upload.status === 'uploading' || upload.status === 'queued';
  return (
    <div
      className={`gms-Upload gms-mod-${upload.status}`}
      data-testid="gms-upload"
      data-upload-id={upload.id}
      data-status={upload.status}
    >
      <span className="gms-Upload-name" title={upload.name}>
        {upload.name}
      </span>
      <progress
        className="gms-ProgressBar"
        max={1}
        value={upload.status === 'done' ? 1 : fraction}
        aria-label={`Upload of ${upload.name}`}
      />
      <span className="gms-Upload-status">
        {upload.status === 'uploading'
          ? `${Math.round(fraction * 100)}%`
          : upload.status === 'error'
            ? (upload.error ?? 'failed')
            : upload.status === 'done'
              ? `✓ ${formatBytes(upload.total)}`
              : upload.status}
      </span>
      {active ? (
        <button
          className="jp-Button jp-mod-minimal gms-TextButton"
          onClick={() => model.uploads.cancel(upload.id)}
          data-testid="gms-upload-cancel"
        >
          Cancel
        </button>
      ) : null}
    </div>
  );
}

interface ICategoryProps {
  model: StudioModel;
  commands: CommandRegistry;
  category: CategoryKey;
  assets: readonly Asset[];
  uploads: readonly IUploadState[];
  selectedPath: string | null;
}

function CategorySection(props: ICategoryProps): React.ReactElement {
  const { model, commands, category, assets, uploads, selectedPath } = props;
  const [open, setOpen] = useState(true);
  const [closedFolders, setClosedFolders] = useState<Set<string>>(
    () => new Set()
  );
  const [dropping, setDropping] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const upload = (files: FileList | null): void => {
    if (files && files.length > 0) {
      void model.uploads
        .add(category, Array.from(files))
        .catch(() => undefined);
    }
  };
  // Finished uploads leave the category (the Progress panel keeps them); failures stay.
  const active = uploads.filter(
    u =>
      u.category === category && u.status !== 'done' && u.status !== 'cancelled'
  );
  return (
    <section
      className={'gms-AssetCategory' + (dropping ? ' gms-mod-dropTarget' : '')}
      data-testid="gms-asset-category"
      data-category={category}
      onDragOver={event => {
        if (hasFiles(event)) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setDropping(true);
        }
      }}
      onDragLeave={event => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
          setDropping(false);
        }
      }}
      onDrop={event => {
        if (hasFiles(event)) {
          event.preventDefault();
          event.stopPropagation();
          setDropping(false);
          upload(event.dataTransfer.files);
        }
      }}
    >
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
          <span className="gms-AssetCategory-title">
            {CATEGORY_LABELS[category]}
          </span>
          <span className="gms-AssetCategory-count">{assets.length}</span>
        </button>
        <button
          className="jp-Button jp-mod-minimal gms-IconButton"
          title={`Upload to ${CATEGORY_LABELS[category]}`}
          data-testid="gms-upload-button"
          onClick={() => input.current?.click()}
        >
          <fileUploadIcon.react tag="span" />
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          data-testid="gms-upload-input"
          onChange={event => {
            upload(event.currentTarget.files);
            event.currentTarget.value = '';
          }}
        />
      </header>
      {active.map(u => (
        <UploadRow key={u.id} model={model} upload={u} />
      ))}
      {dropping ? (
        <div className="gms-AssetCategory-empty gms-mod-drop">
          Release to upload into {CATEGORY_LABELS[category]}
        </div>
      ) : null}
      {open ? (
        assets.length === 0 ? (
          dropping ? null : (
            <div className="gms-AssetCategory-empty">
              Drop files here or use the upload button.
            </div>
          )
        ) : (
          groupByFolder(assets).map(([folder, items]) => {
            const folderOpen = !closedFolders.has(folder);
            return (
              <div
                key={folder || '.'}
                className="gms-AssetFolder"
                data-folder={folder}
              >
                {folder ? (
                  <button
                    className="gms-AssetFolder-header"
                    aria-expanded={folderOpen}
                    onClick={() => {
                      const next = new Set(closedFolders);
                      if (folderOpen) {
                        next.add(folder);
                      } else {
                        next.delete(folder);
                      }
                      setClosedFolders(next);
                    }}
                  >
                    <folderIcon.react tag="span" />
                    {folder}
                  </button>
                ) : null}
                {folderOpen ? (
                  <ul className="gms-AssetGrid">
                    {items.map(asset => (
                      <AssetItem
                        key={asset.path}
                        model={model}
                        commands={commands}
                        asset={asset}
                        category={category}
                        selected={asset.path === selectedPath}
                      />
                    ))}
                  </ul>
                ) : null}
              </div>
            );
          })
        )
      ) : null}
    </section>
  );
}

function AssetBrowserView(props: {
  model: StudioModel;
  commands: CommandRegistry;
}): React.ReactElement {
  const { model, commands } = props;
  const { assets, uploads, selection, projectId, settings } = useSignals(
    [
      model.assets.changed,
      model.uploads.changed,
      model.selection.changed,
      model.projects.currentChanged,
      model.settingsChanged
    ],
    () => ({
      assets: model.assets.list,
      uploads: model.uploads.all,
      selection: model.selection.current,
      projectId: model.projects.id,
      settings: model.settings
    })
  );
  const selectedPath = selection?.kind === 'asset' ? selection.id : null;
  const style = {
    '--gms-thumb-size': `${settings.thumbnailSize}px`
  } as React.CSSProperties;
  return (
    <div className="gms-Panel" style={style}>
      <div className="gms-Panel-header">
        <assetsIcon.react tag="span" className="gms-Panel-headerIcon" />
        <span className="gms-Panel-title">Assets</span>
        <button
          className="jp-Button jp-mod-minimal gms-IconButton"
          title="Refresh assets"
          disabled={!projectId}
          onClick={() => void model.assets.refresh().catch(() => undefined)}
        >
          <refreshIcon.react tag="span" />
        </button>
      </div>
      <StatusBanner model={model} showConnection={false} />
      {!projectId ? (
        <div className="gms-Empty">Open a project to see its assets.</div>
      ) : !assets ? (
        <div className="gms-Empty">Loading assets…</div>
      ) : (
        <div className="gms-AssetCategories">
          {CATEGORY_KEYS.map(category => (
            <CategorySection
              key={category}
              model={model}
              commands={commands}
              category={category}
              assets={assets.categories[category] ?? []}
              uploads={uploads}
              selectedPath={selectedPath}
            />
          ))}
          <ExportsSection model={model} commands={commands} />
        </div>
      )}
    </div>
  );
}

/**
 * The Asset Browser side panel.
 */
export class AssetBrowser extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (preview)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = WidgetIDs.assetBrowser;
    this.addClass('gms-AssetBrowser');
    this.node.dataset.testid = 'gms-asset-browser';
    this.title.icon = assetsIcon;
    this.title.caption = 'Asset Browser';
  }

  protected render(): React.ReactElement {
    return <AssetBrowserView model={this.model} commands={this.commands} />;
  }
}
