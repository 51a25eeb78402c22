/**
 * A shot's references: the assets (or takes) its takes are made from. Shown with their
 * pictures in the Inspector; an asset dragged from the Asset Browser onto a shot (its row in
 * the tree, its card in the storyboard, this list) joins them.
 */
import React, { useState } from 'react';

import { findNode, mediaKindOf } from '../hierarchy';
import { iconForMedia } from '../icons';
import type { StudioModel } from '../model';
import { ASSET_MIME } from '../tokens';
import { useSignals } from './hooks';

/** Whether a drag carries an asset of the Asset Browser. */
export function carriesAsset(event: React.DragEvent): boolean {
  return Array.from(event.dataTransfer.types).includes(ASSET_MIME);
}

/** The asset path a drop carries, if it is an asset of the open project. */
export function droppedAsset(
  event: React.DragEvent,
  projectId: string | null
): string | null {
  try {
    const payload = JSON.parse(event.dataTransfer.getData(ASSET_MIME)) as {
      projectId?: string;
      path?: string;
    };
    return payload.path && payload.projectId === projectId
      ? payload.path
      : null;
  } catch {
    return null;
  }
}

/** What a drop target for references hands to its element. */
export interface IReferenceDrop {
  /** Whether an asset is being dragged over it now (for the drop feedback). */
  over: boolean;
  onDragOver: (event: React.DragEvent) => void;
  onDragLeave: (event: React.DragEvent) => void;
  onDrop: (event: React.DragEvent) => void;
}

/**
 * Make an element a drop target that adds a dragged asset to a shot's references.
 *
 * @param shotId - the shot, or null when the element is not a shot (no drop then)
 */
export function useReferenceDrop(
  model: StudioModel,
  shotId: string | null
): IReferenceDrop {
  const [over, setOver] = useState(false);
  return {
    over,
    onDragOver: event => {
      if (!shotId || !carriesAsset(event)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      event.dataTransfer.dropEffect = 'link';
      if (!over) {
        setOver(true);
      }
    },
    onDragLeave: event => {
      if (
        !event.currentTarget.contains(event.relatedTarget as Node | null) &&
        over
      ) {
        setOver(false);
      }
    },
    onDrop: event => {
      if (!shotId || !carriesAsset(event)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      setOver(false);
      addDroppedReference(model, shotId, event);
    }
  };
}

/** Add the asset a drop carries to a shot's references, and say what happened. */
export function addDroppedReference(
  model: StudioModel,
  shotId: string,
  event: React.DragEvent
): void {
  const path = droppedAsset(event, model.projects.id);
  if (!path) {
    model.notices.notify({
      type: 'warning',
      message: 'Only assets of this project can be references of its shots'
    });
    return;
  }
  const shot = findNode(model.projects.current, shotId)?.shot;
  const name = path.split('/').pop();
  if (shot?.references?.includes(path)) {
    model.notices.notify({
      type: 'info',
      message: `${name} is already a reference of ${shot.name}`
    });
    return;
  }
  void model.projects
    .addReference(shotId, path)
    .then(() =>
      model.notices.notify({
        type: 'success',
        message: `${name} is now a reference of ${shot?.name ?? 'the shot'}`
      })
    )
    .catch(() => undefined);
}

/** The thumbnail URL of a project file: the library's thumbnail, else the file itself. */
function pictureOf(model: StudioModel, path: string): string | null {
  const asset = model.assets.byPath(path);
  if (asset?.thumbnail) {
    return model.resolveUrl(asset.thumbnail);
  }
  return mediaKindOf(path) === 'image' ? model.fileUrl(path) : null;
}

/** A shot's references, with their pictures; a drop target for more. */
export function ReferenceList(props: {
  model: StudioModel;
  shotId: string;
}): React.ReactElement | null {
  const { model, shotId } = props;
  const { project } = useSignals(
    [model.projects.currentChanged, model.assets.changed],
    () => ({ project: model.projects.current })
  );
  const drop = useReferenceDrop(model, shotId);
  const shot = findNode(project, shotId)?.shot;
  if (!shot) {
    return null;
  }
  const references = shot.references ?? [];
  const initImage = references.find(path => mediaKindOf(path) === 'image');
  return (
    <fieldset
      className={'gms-References' + (drop.over ? ' gms-mod-dropTarget' : '')}
      data-testid="gms-references"
      onDragOver={drop.onDragOver}
      onDragLeave={drop.onDragLeave}
      onDrop={drop.onDrop}
    >
      <legend>References</legend>
      {references.length === 0 ? (
        <div className="gms-References-empty">
          {drop.over
            ? 'Release to add it as a reference'
            : 'Drag assets here (or onto the shot in the tree or the storyboard): the first image starts image-to-image takes.'}
        </div>
      ) : (
        <ul className="gms-References-list">
          {references.map(path => {
            const asset = model.assets.byPath(path);
            const picture = pictureOf(model, path);
            const Icon = iconForMedia(asset?.kind ?? mediaKindOf(path));
            const missing = !asset && path.startsWith('01_Assets/');
            return (
              <li
                key={path}
                className={
                  'gms-Reference' + (missing ? ' gms-mod-missing' : '')
                }
                data-testid="gms-reference"
                data-path={path}
                title={
                  missing
                    ? `${path} is no longer in the library (in the trash?): generation leaves it out`
                    : path
                }
              >
                {picture && !missing ? (
                  <img src={picture} alt="" draggable={false} />
                ) : (
                  <Icon.react tag="span" className="gms-Reference-icon" />
                )}
                <span className="gms-Reference-name">
                  {asset?.name ?? path.split('/').pop()}
                  {path === initImage ? <small> · init image</small> : null}
                </span>
                <button
                  type="button"
                  className="jp-Button jp-mod-minimal gms-TextButton"
                  title="Remove Reference"
                  aria-label={`Remove ${asset?.name ?? path} from the references`}
                  data-testid="gms-reference-remove"
                  onClick={() =>
                    void model.projects
                      .removeReference(shotId, path)
                      .catch(() => undefined)
                  }
                >
                  ✕
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {references.length > 0 && drop.over ? (
        <div className="gms-References-empty gms-mod-drop">
          Release to add it as a reference
        </div>
      ) : null}
    </fieldset>
  );
}
