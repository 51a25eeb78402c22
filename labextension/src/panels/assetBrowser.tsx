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
  refreshIcon,
  Toolbar
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useRef, useState } from 'react';

import { assetsIcon } from '../icons';
import type { IUploadState, StudioModel } from '../model';
import { CommandIDs, WidgetIDs } from '../tokens';
import { Asset, CATEGORY_KEYS, CATEGORY_LABELS, CategoryKey } from '../types';
import { ExportsSection } from './exports';
import { useSignals } from './hooks';
import { actionButton, commandButton } from './sectionToolbar';
import { AssetItem, UploadRow } from './assetItem';
import { carriesAsset, droppedAsset } from './references';
import { StatusBanner } from './statusBanner';

export type { IAssetDragPayload } from './assetItem';
export { UploadRow } from './assetItem';

/** Assets grouped by folder, the category's root ('') first; `folders` shows empty ones too. */
export function groupByFolder(
  assets: readonly Asset[],
  folders: readonly string[] = []
): [string, Asset[]][] {
  const groups = new Map<string, Asset[]>();
  for (const folder of folders) {
    groups.set(folder, []);
  }
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

interface ICategoryProps {
  model: StudioModel;
  commands: CommandRegistry;
  category: CategoryKey;
  assets: readonly Asset[];
  uploads: readonly IUploadState[];
  selectedPath: string | null;
}

/** Where an asset dragged onto a folder (or a category's top) goes. */
export interface IFolderDrop {
  over: boolean;
  onDragOver: (event: React.DragEvent) => void;
  onDragLeave: (event: React.DragEvent) => void;
  onDrop: (event: React.DragEvent) => void;
}

/** Make an element a drop target that moves a dragged asset into `category`/`folder`. */
function useFolderDrop(
  model: StudioModel,
  category: CategoryKey,
  folder: string
): IFolderDrop {
  const [over, setOver] = useState(false);
  return {
    over,
    onDragOver: event => {
      if (!carriesAsset(event)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      event.dataTransfer.dropEffect = 'move';
      setOver(true);
    },
    onDragLeave: event => {
      if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
        setOver(false);
      }
    },
    onDrop: event => {
      if (!carriesAsset(event)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      setOver(false);
      const path = droppedAsset(event, model.projects.id);
      const asset = path ? model.assets.byPath(path) : null;
      if (
        path &&
        asset &&
        (asset.category !== category || (asset.folder ?? '') !== folder)
      ) {
        void model.assets
          .move(path, { category, folder })
          .catch(() => undefined);
      }
    }
  };
}

/** One folder of a category: its header (a drop target, with a context menu) and its grid. */
function FolderGroup(props: {
  model: StudioModel;
  commands: CommandRegistry;
  category: CategoryKey;
  folder: string;
  assets: readonly Asset[];
  selectedPath: string | null;
}): React.ReactElement {
  const { model, commands, category, folder, assets, selectedPath } = props;
  const [open, setOpen] = useState(true);
  const drop = useFolderDrop(model, category, folder);
  const top = `01_Assets/${category[0].toUpperCase()}${category.slice(1)}`;
  return (
    <div
      className={'gms-AssetFolder' + (drop.over ? ' gms-mod-dropTarget' : '')}
      data-folder={folder}
      data-testid="gms-asset-folder"
      onDragOver={drop.onDragOver}
      onDragLeave={drop.onDragLeave}
      onDrop={drop.onDrop}
    >
      {folder ? (
        <button
          className="gms-AssetFolder-header"
          aria-expanded={open}
          title={`${folder} — drop assets here to move them in`}
          data-asset-target=""
          data-target-category={category}
          data-folder={folder}
          data-path={`${top}/${folder}`}
          onClick={() => setOpen(!open)}
        >
          <folderIcon.react tag="span" />
          <span className="gms-AssetFolder-name">{folder}</span>
          <span className="gms-AssetCategory-count">{assets.length}</span>
        </button>
      ) : null}
      {open ? (
        assets.length === 0 ? (
          folder ? (
            <div className="gms-AssetCategory-empty">
              {drop.over ? 'Release to move it here' : 'An empty folder.'}
            </div>
          ) : null
        ) : (
          <ul className="gms-AssetGrid">
            {assets.map(asset => (
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
        )
      ) : null}
    </div>
  );
}

function CategorySection(props: ICategoryProps): React.ReactElement {
  const { model, commands, category, assets, uploads, selectedPath } = props;
  const folders = model.assets.foldersOf(category);
  const [open, setOpen] = useState(true);
  const [dropping, setDropping] = useState(false);
  const top = useFolderDrop(model, category, '');
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
        top.onDragOver(event);
        if (hasFiles(event)) {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setDropping(true);
        }
      }}
      onDragLeave={event => {
        top.onDragLeave(event);
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
          setDropping(false);
        }
      }}
      onDrop={event => {
        top.onDrop(event);
        if (hasFiles(event)) {
          event.preventDefault();
          event.stopPropagation();
          setDropping(false);
          upload(event.dataTransfer.files);
        }
      }}
    >
      <header
        className="gms-AssetCategory-header"
        data-asset-target=""
        data-target-category={category}
        data-folder=""
      >
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
      {dropping || top.over ? (
        <div className="gms-AssetCategory-empty gms-mod-drop">
          {dropping
            ? `Release to upload into ${CATEGORY_LABELS[category]}`
            : `Release to move it to ${CATEGORY_LABELS[category]}`}
        </div>
      ) : null}
      {open ? (
        assets.length === 0 && folders.length === 0 ? (
          dropping || top.over ? null : (
            <div className="gms-AssetCategory-empty">
              Drop files here or use the upload button.
            </div>
          )
        ) : (
          groupByFolder(assets, folders).map(([folder, items]) => (
            <FolderGroup
              key={folder || '.'}
              model={model}
              commands={commands}
              category={category}
              folder={folder}
              assets={items}
              selectedPath={selectedPath}
            />
          ))
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
    this.title.label = 'Asset Browser';
    this.title.caption =
      'The asset library: locations, characters, music and styles';
    this.toolbar.addItem(
      'new-folder',
      commandButton(
        commands,
        CommandIDs.newAssetFolder,
        'gms-new-folder-button'
      )
    );
    this.toolbar.addItem(
      'refresh',
      actionButton({
        icon: refreshIcon,
        tooltip: 'Refresh Assets',
        testId: 'gms-refresh-assets',
        onClick: () => void model.assets.refresh().catch(() => undefined)
      })
    );
  }

  /** The section's title-bar buttons. */
  readonly toolbar = new Toolbar();

  protected render(): React.ReactElement {
    return <AssetBrowserView model={this.model} commands={this.commands} />;
  }
}
