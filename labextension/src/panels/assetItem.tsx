/**
 * The pieces of the Asset Browser: one asset (its picture at its own aspect ratio, dragged onto
 * shots or into folders, keyboard and context menu) and one upload's progress line.
 */
import { CommandRegistry } from '@lumino/commands';
import React, { useState } from 'react';

import { iconForMedia } from '../icons';
import type { IUploadState, StudioModel } from '../model';
import { formatBytes } from '../model';
import { ASSET_MIME, CommandIDs } from '../tokens';
import type { Asset, CategoryKey } from '../types';

/** The payload of an asset dragged out of the browser (`application/x-gms-asset`). */
export interface IAssetDragPayload {
  projectId: string;
  path: string;
  name: string;
  category: string;
  kind: Asset['kind'];
  url: string;
}

export interface IAssetItemProps {
  model: StudioModel;
  commands: CommandRegistry;
  asset: Asset;
  category: CategoryKey;
  selected: boolean;
}

/** One asset of the grid: its picture at its own aspect ratio, its name. */
export function AssetItem(props: IAssetItemProps): React.ReactElement {
  const { model, commands, asset, category, selected } = props;
  const [broken, setBroken] = useState(false);
  // width over height of the picture, once loaded: wide plates stay wide, portraits tall
  const [aspect, setAspect] = useState(1);
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
      style={{ '--gms-aspect': aspect } as React.CSSProperties}
      onClick={() => model.selection.select({ kind: 'asset', id: asset.path })}
      onContextMenu={() =>
        model.selection.select({ kind: 'asset', id: asset.path })
      }
      onDoubleClick={open}
      onKeyDown={event => {
        const keys: { [key: string]: string } = {
          Enter: CommandIDs.previewAsset,
          F2: CommandIDs.renameAsset,
          Delete: CommandIDs.deleteAsset
        };
        const command = keys[event.key];
        if (command) {
          event.preventDefault();
          event.stopPropagation();
          model.selection.select({ kind: 'asset', id: asset.path });
          void commands.execute(command, { path: asset.path });
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
        // copied onto a shot (a reference), moved within the library
        event.dataTransfer.effectAllowed = 'all';
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
            onLoad={event => {
              const { naturalWidth, naturalHeight } = event.currentTarget;
              if (naturalWidth && naturalHeight) {
                setAspect(naturalWidth / naturalHeight);
              }
            }}
          />
        ) : (
          <Icon.react tag="span" className="gms-AssetItem-icon" />
        )}
      </div>
      <div className="gms-AssetItem-name" title={asset.name}>
        {asset.name}
      </div>
    </li>
  );
}

export interface IUploadRowProps {
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
