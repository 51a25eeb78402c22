/**
 * The Trash's commands: open the Trash view, restore or erase an item (buttons, context menu,
 * palette), empty the trash.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { deleteIcon, undoIcon } from '@jupyterlab/ui-components';

import { TrashView, confirmErase } from './panels/trash';
import { TrashModel, trashLabel } from './trash';
import { CommandIDs, WidgetIDs } from './tokens';

/** The selector of an item of the Trash view (for the context menu). */
export const TRASH_ITEM_SELECTOR = '.gms-TrashItem';

/**
 * Register the Trash's commands and context menu.
 *
 * @param app - the application
 * @param trash - the trash model
 * @param currentProject - the open project's id, for "This project"
 * @returns the tracker of the Trash view (for the layout restorer)
 */
export function registerTrashCommands(
  app: JupyterFrontEnd,
  trash: TrashModel,
  currentProject: () => string | null
): WidgetTracker<MainAreaWidget<TrashView>> {
  const { commands } = app;
  const tracker = new WidgetTracker<MainAreaWidget<TrashView>>({
    namespace: 'gms-trash'
  });

  /** The item a command acts on: its `id` argument, else the one under the context menu. */
  const itemOf = (args: { id?: unknown }) => {
    const view = tracker.currentWidget?.content;
    const id =
      typeof args.id === 'string'
        ? args.id
        : view?.itemAt(
            app.contextMenuHitTest(node => !!node.dataset.id) ?? null
          )?.id;
    return trash.items.find(item => item.id === id);
  };

  commands.addCommand(CommandIDs.openTrash, {
    label: 'Open Trash',
    caption:
      'What was deleted (projects, chapters, scenes, shots, takes, assets): restore or erase it',
    icon: args => (args.isPalette ? undefined : deleteIcon),
    execute: () => {
      let widget = tracker.currentWidget;
      if (!widget || widget.isDisposed) {
        widget = new MainAreaWidget({
          content: new TrashView(trash, currentProject)
        });
        widget.id = WidgetIDs.trash;
        widget.title.label = 'Trash';
        widget.title.icon = deleteIcon;
        widget.title.closable = true;
        void tracker.add(widget);
      }
      if (!widget.isAttached) {
        app.shell.add(widget, 'main');
      }
      app.shell.activateById(widget.id);
      void trash.refresh();
    }
  });

  commands.addCommand(CommandIDs.restoreFromTrash, {
    label: 'Restore',
    caption: 'Put it back where it was, with its files',
    icon: undoIcon,
    isEnabled: args =>
      (typeof args.id === 'string' || !!itemOf(args)) && !trash.acting,
    execute: async args => {
      // an id given (the "Undo" of a deletion) need not be in the list read so far
      const id = typeof args.id === 'string' ? args.id : itemOf(args)?.id;
      if (id && !(await trash.restore(id)) && trash.error) {
        Notification.warning(`Could not restore: ${trash.error}`);
      }
    }
  });

  commands.addCommand(CommandIDs.eraseFromTrash, {
    label: 'Delete Forever…',
    caption: 'Erase it from the disk',
    icon: deleteIcon,
    isEnabled: args => !!itemOf(args) && !trash.acting,
    execute: async args => {
      const item = itemOf(args);
      if (item && (await confirmErase(trashLabel(item)))) {
        await trash.erase(item.id);
      }
    }
  });

  commands.addCommand(CommandIDs.emptyTrash, {
    label: 'Empty Trash…',
    caption: 'Erase everything in the trash from the disk',
    execute: async () => {
      await trash.refresh();
      const count = trash.items.length;
      if (count === 0) {
        return;
      }
      const what = `${count} deleted item${count === 1 ? '' : 's'}`;
      if (await confirmErase(what)) {
        await trash.empty();
      }
    }
  });

  app.contextMenu.addItem({
    command: CommandIDs.restoreFromTrash,
    selector: TRASH_ITEM_SELECTOR,
    rank: 1
  });
  app.contextMenu.addItem({
    command: CommandIDs.eraseFromTrash,
    selector: TRASH_ITEM_SELECTOR,
    rank: 2
  });
  return tracker;
}
