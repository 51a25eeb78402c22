/**
 * The Generative Media Studio JupyterLab extension: the model and its socket, the side panels,
 * the Studio main view, commands, launcher card, notifications and state persistence.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { CommandToolbarButton, Toolbar } from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { Menu } from '@lumino/widgets';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { JSONObject, ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { StudioClient } from './api';
import {
  PALETTE_CATEGORY,
  registerCommands,
  TREE_CONTEXT_MENU
} from './commands';
import { findNode } from './hierarchy';
import { toastLifetime } from './models/notices';
import { EXPORT_KINDS } from './types';
import { inspectorPanelIcon, progressIcon, studioIcon } from './icons';
import {
  DEFAULT_SETTINGS,
  ISelection,
  IStudioSettings,
  StudioModel
} from './model';
import { AssetBrowser } from './panels/assetBrowser';
import { Inspector } from './panels/inspector';
import { StudioView } from './panels/mainView';
import { StudioSidebar } from './panels/sidebar';
import { TakeViewer } from './panels/takeViewer';
import { ProgressPanel } from './panels/progress';
import { ProjectBrowser } from './panels/projectBrowser';
import { registerAssetCommands } from './assetCommands';
import { socketUrl, StudioSocket } from './socket';
import { registerTakeCommands } from './takeCommands';
import { TrashModel } from './trash';
import { registerTrashCommands } from './trashCommands';
import {
  CommandIDs,
  IStudioModel,
  PLUGIN_ID,
  STATE_KEY,
  WidgetIDs
} from './tokens';

export * from './tokens';
export { StudioModel } from './model';

/** The Studio view's toolbar: the commands a director reaches for while looking at a scene. */
function addStudioToolbar(
  widget: MainAreaWidget<StudioView>,
  commands: CommandRegistry
): void {
  const items: [string, string, string][] = [
    ['generate-take', CommandIDs.generateTake, 'Generate Take'],
    ['add-shot', CommandIDs.addShot, 'Add Shot'],
    ['commit', CommandIDs.commit, 'Commit']
  ];
  for (const [name, id, label] of items) {
    widget.toolbar.addItem(
      name,
      new CommandToolbarButton({ commands, id, label })
    );
  }
  widget.toolbar.addItem('spacer', Toolbar.createSpacerItem());
  widget.toolbar.addItem(
    'refresh',
    new CommandToolbarButton({ commands, id: CommandIDs.refresh, label: '' })
  );
}

/** What the studio keeps in IStateDB between page loads. */
interface IStudioState {
  projectId: string | null;
  selection: ISelection | null;
}

/** Read the user's settings into the model, now and whenever they change. */
function followSettings(model: StudioModel, registry: ISettingRegistry): void {
  registry
    .load(PLUGIN_ID)
    .then(settings => {
      const apply = (): void => {
        const composite = settings.composite as Partial<IStudioSettings>;
        model.settings = { ...DEFAULT_SETTINGS, ...composite };
      };
      apply();
      settings.changed.connect(apply);
    })
    .catch(reason => console.warn('gms: cannot load the settings', reason));
}

/** Show the model's notices with JupyterLab's notifications. */
function showNotices(model: StudioModel): void {
  // a notice with a key replaces the one shown under that key (if it is still shown)
  const shown = new Map<string, string>();
  model.notices.notified.connect((_, notice) => {
    const options = {
      autoClose: toastLifetime(notice),
      actions: notice.actions?.map(action => ({
        label: action.label,
        callback: () => action.callback()
      }))
    };
    const id = notice.key ? shown.get(notice.key) : undefined;
    if (
      id &&
      Notification.update({
        id,
        message: notice.message,
        type: notice.type,
        ...options
      })
    ) {
      return;
    }
    const made = Notification.emit(notice.message, notice.type, options);
    if (notice.key) {
      shown.set(notice.key, made);
    }
  });
}

/**
 * Reopen the project and selection of the last session, or the most recent project on a first
 * visit; then save them whenever they change.
 */
async function persistState(
  model: StudioModel,
  state: IStateDB | null
): Promise<void> {
  let saved: IStudioState | null = null;
  if (state) {
    saved =
      ((await state
        .fetch(STATE_KEY)
        .catch(() => null)) as IStudioState | null) ?? null;
  }
  const projectId =
    saved?.projectId ??
    [...model.projects.list].sort((a, b) =>
      b.modified.localeCompare(a.modified)
    )[0]?.id ??
    null;
  if (
    projectId &&
    model.projects.list.some(project => project.id === projectId)
  ) {
    await model.projects.open(projectId).catch(() => undefined);
    const selection = saved?.selection;
    if (
      selection &&
      (selection.kind === 'asset'
        ? model.assets.byPath(selection.id)
        : selection.kind === 'project' ||
          findNode(model.projects.current, selection.id))
    ) {
      model.selection.select(selection);
    }
  }
  if (!state) {
    return;
  }
  const save = (): void => {
    const value: IStudioState = {
      projectId: model.projects.id,
      selection: model.selection.current
    };
    void state
      .save(STATE_KEY, value as unknown as JSONObject)
      .catch(() => undefined);
  };
  model.projects.currentChanged.connect(save);
  model.selection.changed.connect(save);
}

/**
 * The model, the REST client and the event socket; settings, notifications and saved state.
 */
const modelPlugin: JupyterFrontEndPlugin<IStudioModel> = {
  id: PLUGIN_ID,
  description: 'The Generative Media Studio model and its server connection.',
  autoStart: true,
  provides: IStudioModel,
  optional: [ISettingRegistry, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null,
    state: IStateDB | null
  ): IStudioModel => {
    const api = new StudioClient();
    const model = new StudioModel({
      api,
      createSocket: projectId =>
        new StudioSocket({ url: () => socketUrl(projectId, api.settings) }),
      state
    });
    showNotices(model);
    if (registry) {
      followSettings(model, registry);
    }
    const started = model
      .start()
      .catch(reason => console.warn('gms: start failed', reason));
    void Promise.all([started, app.restored]).then(() =>
      persistState(model, state)
    );
    return model;
  }
};

/**
 * The left panels: Project Browser and Asset Browser.
 */
const browsersPlugin: JupyterFrontEndPlugin<void> = {
  id: 'gms-lab:browsers',
  description: 'The Project Browser and the Asset Browser.',
  autoStart: true,
  requires: [IStudioModel],
  optional: [ILayoutRestorer, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    model: IStudioModel,
    restorer: ILayoutRestorer | null,
    state: IStateDB | null
  ): void => {
    const projects = new ProjectBrowser(model, app.commands);
    const assets = new AssetBrowser(model, app.commands);
    // one side bar, both visible: the film over its asset library
    const browsers = new StudioSidebar({
      id: WidgetIDs.browsers,
      caption: 'Studio: Project Browser and Asset Browser',
      icon: studioIcon,
      sections: [projects, assets],
      sizes: [3, 2],
      store: state
    });
    app.shell.add(browsers, 'left', { rank: 150 });
    restorer?.add(browsers, WidgetIDs.browsers);
    registerAssetCommands(app, model);

    for (const item of TREE_CONTEXT_MENU) {
      for (const kind of item.kinds) {
        app.contextMenu.addItem({
          command: item.command,
          selector: `.gms-TreeItem[data-kind="${kind}"]`,
          rank: item.rank
        });
      }
    }
    // Export ▸ of the film, a chapter or a scene (right-click selects the row first)
    const exportMenu = new Menu({ commands: app.commands });
    exportMenu.title.label = 'Export';
    exportMenu.id = 'gms-export-menu';
    for (const { kind } of EXPORT_KINDS) {
      exportMenu.addItem({ command: CommandIDs.exportScope, args: { kind } });
    }
    for (const kind of ['project', 'chapter', 'scene']) {
      app.contextMenu.addItem({
        type: 'submenu',
        submenu: exportMenu,
        selector: `.gms-TreeItem[data-kind="${kind}"]`,
        rank: 6.5
      });
    }

    // Show the Project Browser on the first visit (of a workspace); later, the restored layout
    // decides. Doing it inside activate() would be undone by the layout restore, hence after
    // `app.restored`.
    const introduced = 'gms-lab:introduced';
    void app.restored.then(async () => {
      const seen = state
        ? await state.fetch(introduced).catch(() => null)
        : null;
      if (!seen) {
        // both side bars, each with both of its sections
        app.shell.activateById(browsers.id);
        app.shell.activateById(WidgetIDs.sidebar);
        await state?.save(introduced, true).catch(() => undefined);
      }
    });
  }
};

/**
 * The right panels: Inspector and Progress.
 */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'gms-lab:sidebar',
  description: 'The Inspector and the Progress panel.',
  autoStart: true,
  requires: [IStudioModel],
  optional: [ILayoutRestorer, IStateDB],
  activate: (
    app: JupyterFrontEnd,
    model: IStudioModel,
    restorer: ILayoutRestorer | null,
    state: IStateDB | null
  ): void => {
    const inspector = new Inspector(model, app.commands);
    const progress = new ProgressPanel(model, app.commands);
    // one side bar, both visible: what is selected over what is running
    const sidebar = new StudioSidebar({
      id: WidgetIDs.sidebar,
      caption: 'Studio: Inspector and Progress',
      icon: inspectorPanelIcon,
      sections: [inspector, progress],
      sizes: [3, 2],
      store: state
    });
    progress.title.icon = progressIcon;
    app.shell.add(sidebar, 'right', { rank: 200 });
    restorer?.add(sidebar, WidgetIDs.sidebar);
  }
};

/**
 * The Studio main view, the commands, the palette entries and the launcher card.
 */
const studioPlugin: JupyterFrontEndPlugin<void> = {
  id: 'gms-lab:studio',
  description: 'The Studio main view and the studio commands.',
  autoStart: true,
  requires: [IStudioModel],
  optional: [ICommandPalette, ILauncher, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    model: IStudioModel,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const tracker = new WidgetTracker<MainAreaWidget<StudioView>>({
      namespace: 'gms-studio'
    });
    const openStudio = (): void => {
      let widget = tracker.currentWidget;
      if (!widget || widget.isDisposed) {
        widget = new MainAreaWidget({
          content: new StudioView(model, app.commands)
        });
        widget.id = WidgetIDs.studio;
        widget.title.label = 'Studio';
        widget.title.icon = studioIcon;
        widget.title.closable = true;
        addStudioToolbar(widget, app.commands);
        void tracker.add(widget);
      }
      if (!widget.isAttached) {
        app.shell.add(widget, 'main');
      }
      app.shell.activateById(widget.id);
    };
    registerCommands(app, model, { openStudio });

    // the full-size viewer: one, showing the take asked for
    const viewers = new WidgetTracker<MainAreaWidget<TakeViewer>>({
      namespace: 'gms-take-viewer'
    });
    const viewTake = (takeId: string): void => {
      let widget = viewers.currentWidget;
      if (!widget || widget.isDisposed) {
        widget = new MainAreaWidget({
          content: new TakeViewer(model, app.commands)
        });
        widget.id = WidgetIDs.takeViewer;
        widget.title.closable = true;
        void viewers.add(widget);
      }
      if (!widget.isAttached) {
        app.shell.add(widget, 'main', { mode: 'tab-after' });
      }
      widget.content.showTake(takeId);
      app.shell.activateById(widget.id);
    };
    registerTakeCommands(app, model, { viewTake });
    // An export chosen anywhere (a notice's Play, the Exports list) plays in the Studio.
    model.selection.changed.connect((_, selection) => {
      if (selection?.kind === 'export') {
        openStudio();
      }
    });
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openStudio,
        name: () => 'studio'
      });
    }

    const paletteCommands: [string, ReadonlyPartialJSONObject?][] = [
      [CommandIDs.newProject],
      [CommandIDs.openStudio],
      [CommandIDs.generateTake],
      [CommandIDs.generateScene],
      [CommandIDs.viewTake],
      [CommandIDs.dismissTake],
      [CommandIDs.clearRecent],
      [CommandIDs.newAssetFolder],
      [CommandIDs.renameAsset],
      [CommandIDs.moveAsset],
      [CommandIDs.deleteAsset],
      [CommandIDs.addChapter],
      [CommandIDs.addScene],
      [CommandIDs.addShot],
      [CommandIDs.rename],
      [CommandIDs.remove],
      [CommandIDs.commit],
      [CommandIDs.refresh],
      [CommandIDs.exportScope]
    ];
    for (const [command, args] of paletteCommands) {
      palette?.addItem({
        command,
        category: PALETTE_CATEGORY,
        args: { ...args, isPalette: true }
      });
    }
    launcher?.add({
      command: CommandIDs.openStudio,
      args: { isLauncher: true },
      category: 'Other',
      rank: 0
    });
  }
};

/**
 * The Trash view and its commands (palette, context menus).
 */
const trashPlugin: JupyterFrontEndPlugin<void> = {
  id: 'gms-lab:trash',
  description: 'The workspace trash: restore or erase what was deleted.',
  autoStart: true,
  requires: [IStudioModel],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    model: IStudioModel,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ): void => {
    const trash = new TrashModel(new StudioClient(), item => {
      // what came back shows up: the project list, and the open project's tree and assets
      void model.projects.load().catch(() => undefined);
      if (item.projectId === model.projects.id) {
        void model.resync().catch(() => undefined);
      }
    });
    const tracker = registerTrashCommands(app, trash, () => model.projects.id);
    // deletions made anywhere show up in an open Trash view
    const refresh = (): void => {
      if (tracker.currentWidget?.isVisible) {
        void trash.refresh();
      }
    };
    model.projects.listChanged.connect(refresh);
    model.projects.currentChanged.connect(refresh);
    if (restorer) {
      void restorer.restore(tracker, {
        command: CommandIDs.openTrash,
        name: () => 'trash'
      });
    }
    for (const command of [CommandIDs.openTrash, CommandIDs.emptyTrash]) {
      palette?.addItem({
        command,
        category: PALETTE_CATEGORY,
        args: { isPalette: true }
      });
    }
  }
};

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  modelPlugin,
  browsersPlugin,
  sidebarPlugin,
  studioPlugin,
  trashPlugin
];

export default plugins;
