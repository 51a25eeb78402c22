/**
 * The Asset Browser's commands (context menu, keyboard, palette): rename an asset, move it to
 * another category or folder, make a folder, move an asset or a folder to the trash.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { deleteIcon, editIcon, newFolderIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { MoveAssetBody } from './dialogs';
import type { StudioModel } from './model';
import { CommandIDs } from './tokens';
import { CATEGORY_LABELS, CategoryKey } from './types';

/** The context-menu entries of the Asset Browser, by what was right-clicked. */
export const ASSET_CONTEXT_MENU: {
  command: string;
  selector: string;
  rank: number;
}[] = [
  { command: CommandIDs.previewAsset, selector: '.gms-AssetItem', rank: 0 },
  { command: CommandIDs.renameAsset, selector: '.gms-AssetItem', rank: 2 },
  { command: CommandIDs.moveAsset, selector: '.gms-AssetItem', rank: 3 },
  { command: CommandIDs.deleteAsset, selector: '.gms-AssetItem', rank: 4 },
  {
    command: CommandIDs.newAssetFolder,
    selector: '.gms-AssetFolder-header',
    rank: 1
  },
  {
    command: CommandIDs.deleteAsset,
    selector: '.gms-AssetFolder-header',
    rank: 2
  },
  {
    command: CommandIDs.newAssetFolder,
    selector: '.gms-AssetCategory-header',
    rank: 1
  }
];

/** What an asset command acts on. */
interface IAssetTarget {
  /** The asset's (or folder's) project-relative path. */
  path: string | null;
  category: CategoryKey | null;
  /** The folder, relative to the category ('' for the top). */
  folder: string | null;
}

/**
 * What a command acts on: its arguments; from the context menu, the item right-clicked (it
 * carries `data-asset-target`, and `data-target-category` for a category or folder); else
 * the selected asset.
 */
function targetOf(
  app: JupyterFrontEnd,
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): IAssetTarget {
  const text = (value: unknown): string | null =>
    typeof value === 'string' ? value : null;
  if (args.fromMenu) {
    const node = app.contextMenuHitTest(
      candidate => candidate.dataset.assetTarget !== undefined
    );
    if (node) {
      return {
        path: node.dataset.path ?? null,
        category:
          (node.dataset.targetCategory as CategoryKey | undefined) ?? null,
        folder: node.dataset.folder ?? null
      };
    }
  }
  const selection = model.selection.current;
  const path =
    text(args.path) ?? (selection?.kind === 'asset' ? selection.id : null);
  const asset = path ? model.assets.byPath(path) : null;
  return {
    path,
    category:
      (text(args.category) as CategoryKey | null) ?? asset?.category ?? null,
    folder: text(args.folder)
  };
}

/** Tell the user an item went to the trash, with Undo. */
function toldTrashed(
  app: JupyterFrontEnd,
  what: string,
  trashId: string
): void {
  Notification.info(`${what} is in the trash.`, {
    autoClose: 8000,
    actions: [
      {
        label: 'Undo',
        callback: () =>
          void app.commands.execute(CommandIDs.restoreFromTrash, {
            id: trashId
          })
      },
      {
        label: 'Open Trash',
        callback: () => void app.commands.execute(CommandIDs.openTrash)
      }
    ]
  });
}

/**
 * Register the asset commands and their context menu.
 */
export function registerAssetCommands(
  app: JupyterFrontEnd,
  model: StudioModel
): void {
  const { commands } = app;
  const ignore = (): undefined => undefined;
  const hasProject = (): boolean => model.projects.id !== null;

  commands.addCommand(CommandIDs.renameAsset, {
    label: 'Rename Asset…',
    caption: 'Rename the asset (shots that reference it follow)',
    icon: args => (args.isPalette ? undefined : editIcon),
    isEnabled: args => {
      const { path } = targetOf(app, model, args);
      return !!path && !!model.assets.byPath(path);
    },
    execute: async args => {
      const { path } = targetOf(app, model, args);
      const asset = path ? model.assets.byPath(path) : null;
      if (!path || !asset) {
        return;
      }
      const result = await InputDialog.getText({
        title: 'Rename Asset',
        label: 'Name',
        text: asset.name,
        okLabel: 'Rename',
        selectionRange:
          asset.name.lastIndexOf('.') > 0
            ? asset.name.lastIndexOf('.')
            : undefined
      });
      const name = result.value?.trim();
      if (result.button.accept && name && name !== asset.name) {
        await model.assets.move(path, { name }).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.moveAsset, {
    label: 'Move Asset…',
    caption: 'Move the asset to another category or folder',
    isEnabled: args => {
      const { path } = targetOf(app, model, args);
      return !!path && !!model.assets.byPath(path);
    },
    execute: async args => {
      const { path } = targetOf(app, model, args);
      const asset = path ? model.assets.byPath(path) : null;
      if (!path || !asset?.category) {
        return;
      }
      const body = new MoveAssetBody(
        asset.category,
        asset.folder ?? '',
        category => model.assets.foldersOf(category)
      );
      const result = await showDialog({
        title: `Move ${asset.name}`,
        body,
        buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Move' })]
      });
      if (!result.button.accept || !result.value) {
        return;
      }
      const { category, folder } = result.value;
      if (category !== asset.category || folder !== (asset.folder ?? '')) {
        await model.assets.move(path, { category, folder }).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.newAssetFolder, {
    label: 'New Folder…',
    caption: 'Make a folder in a category of the asset library',
    icon: args => (args.isPalette ? undefined : newFolderIcon),
    isEnabled: hasProject,
    execute: async args => {
      const target = targetOf(app, model, args);
      let category = target.category;
      if (!category) {
        const picked = await InputDialog.getItem({
          title: 'New Folder',
          label: 'In the category',
          items: Object.values(CATEGORY_LABELS),
          okLabel: 'Next'
        });
        const key = Object.entries(CATEGORY_LABELS).find(
          ([, label]) => label === picked.value
        );
        if (!picked.button.accept || !key) {
          return;
        }
        category = key[0] as CategoryKey;
      }
      // in a folder right-clicked (or given); beside the selected asset otherwise
      const parent =
        target.folder ??
        (target.path ? (model.assets.byPath(target.path)?.folder ?? '') : '');
      const result = await InputDialog.getText({
        title: `New Folder in ${CATEGORY_LABELS[category]}${parent ? ` / ${parent}` : ''}`,
        label: 'Name',
        placeholder: 'e.g. Harbour plates',
        okLabel: 'Make Folder'
      });
      const name = result.value?.trim();
      if (result.button.accept && name) {
        const folder = parent ? `${parent}/${name}` : name;
        await model.assets.makeFolder(category, folder).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.deleteAsset, {
    label: args =>
      targetOf(app, model, args).folder !== null
        ? 'Move Folder to Trash'
        : 'Move Asset to Trash',
    caption:
      'Move it to the trash (restore it from the Trash until it is emptied)',
    icon: args => (args.isPalette ? undefined : deleteIcon),
    isEnabled: args => !!targetOf(app, model, args).path,
    execute: async args => {
      const { path } = targetOf(app, model, args);
      if (!path) {
        return;
      }
      const name =
        model.assets.byPath(path)?.name ?? path.split('/').pop() ?? path;
      const trashId = await model.assets.trash(path).catch(ignore);
      if (trashId) {
        toldTrashed(app, name, trashId);
      }
    }
  });

  for (const item of ASSET_CONTEXT_MENU) {
    app.contextMenu.addItem({ ...item, args: { fromMenu: true } });
  }
}
