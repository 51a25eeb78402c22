/**
 * Tokens and ids shared by the studio's plugins.
 */
import { Token } from '@lumino/coreutils';

import type { StudioModel } from './model';

/** The studio model: one per JupyterLab page, shared by every panel. */
export type IStudioModel = StudioModel;

/** The token of the studio model, provided by the `gms-lab:plugin` plugin. */
export const IStudioModel = new Token<IStudioModel>(
  'gms-lab:IStudioModel',
  'The Generative Media Studio model: projects, selection, tasks, assets and uploads.'
);

/** The id of the plugin that owns the settings (`schema/plugin.json`). */
export const PLUGIN_ID = 'gms-lab:plugin';

/** The key under which the studio keeps its state (open project, selection) in IStateDB. */
export const STATE_KEY = 'gms-lab:studio';

/** The MIME type of an asset dragged from the Asset Browser. */
export const ASSET_MIME = 'application/x-gms-asset';

/** The MIME type of a hierarchy node dragged inside the Project Browser. */
export const NODE_MIME = 'application/x-gms-node';

/** The ids of the studio's commands. */
export namespace CommandIDs {
  export const newProject = 'gms:new-project';
  export const openProject = 'gms:open-project';
  export const openStudio = 'gms:open-studio';
  export const generateTake = 'gms:generate-take';
  export const addChapter = 'gms:add-chapter';
  export const addScene = 'gms:add-scene';
  export const addShot = 'gms:add-shot';
  export const rename = 'gms:rename';
  export const remove = 'gms:delete';
  export const selectTake = 'gms:select-take';
  export const commit = 'gms:commit';
  export const refresh = 'gms:refresh';
  export const previewAsset = 'gms:preview-asset';
  export const exportScope = 'gms:export';
  export const openExport = 'gms:open-export';
  export const openTrash = 'gms:open-trash';
  export const restoreFromTrash = 'gms:trash-restore';
  export const eraseFromTrash = 'gms:trash-delete-forever';
  export const emptyTrash = 'gms:empty-trash';
  export const renameAsset = 'gms:rename-asset';
  export const moveAsset = 'gms:move-asset';
  export const newAssetFolder = 'gms:new-asset-folder';
  export const deleteAsset = 'gms:delete-asset';
  export const generateScene = 'gms:generate-scene';
  export const viewTake = 'gms:view-take';
  export const dismissTake = 'gms:dismiss-take';
  export const clearRecent = 'gms:clear-recent';
}

/** The ids of the studio's widgets (also their DOM ids). */
export namespace WidgetIDs {
  export const projectBrowser = 'gms-project-browser';
  export const assetBrowser = 'gms-asset-browser';
  export const inspector = 'gms-inspector';
  export const progress = 'gms-progress';
  export const studio = 'gms-studio';
  export const trash = 'gms-trash';
  export const browsers = 'gms-browsers';
  export const sidebar = 'gms-sidebar';
  export const takeViewer = 'gms-take-viewer';
}
