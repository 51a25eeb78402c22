/**
 * The studio's commands (palette, context menu, buttons): each resolves its target from its
 * arguments or the current selection, asks what it needs in a dialog, and calls the model.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  InputDialog,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import {
  addIcon,
  deleteIcon,
  editIcon,
  refreshIcon,
  runIcon
} from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { IGenerateValue, NewProjectBody } from './dialogs';
import { findNode } from './hierarchy';
import { studioIcon } from './icons';
import { askGeneration } from './takeCommands';
import type { StudioModel } from './model';
import { CommandIDs } from './tokens';
import type { CreatableKind, IProject, JSONRecord, Quality } from './types';
import { EXPORT_KINDS } from './types';

/** The palette category of the studio's commands. */
export const PALETTE_CATEGORY = 'Generative Studio';

/** What the commands need besides the model. */
export interface ICommandContext {
  /** Open (or reveal) the Studio main view. */
  openStudio: () => void;
}

/** The id a command acts on: its `nodeId` argument, else the selection's. */
function targetId(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): string | null {
  return typeof args.nodeId === 'string'
    ? args.nodeId
    : (model.selection.current?.id ?? null);
}

/**
 * What an export covers: the given or selected scene or chapter, the scene of a selected shot or
 * take, or the whole film (`id` null) when the project is given or selected.
 */
function exportScope(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): { id: string | null; name: string } | null {
  const project = model.projects.current;
  if (!project) {
    return null;
  }
  const id = targetId(model, args);
  if (!id || id === project.id) {
    return { id: null, name: project.name };
  }
  const node = findNode(project, id);
  if (!node) {
    return null;
  }
  if (node.kind === 'chapter') {
    return { id: node.chapter.id, name: node.chapter.name };
  }
  return node.scene ? { id: node.scene.id, name: node.scene.name } : null;
}

/** What rename and delete act on: the project itself, or one of its nodes. */
interface ITarget {
  project: IProject;
  id: string;
  isProject: boolean;
  node: ReturnType<typeof findNode>;
}

/** The project or node a command acts on (the given or selected one), if it exists. */
function target(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): ITarget | null {
  const project = model.projects.current;
  const id = targetId(model, args);
  if (!project || !id) {
    return null;
  }
  const isProject = id === project.id;
  const node = isProject ? null : findNode(project, id);
  return isProject || node ? { project, id, isProject, node } : null;
}

/** The shot a command acts on: the given or selected shot, or the shot of a selected take. */
function targetShot(
  model: StudioModel,
  args: ReadonlyPartialJSONObject
): string | null {
  const id = targetId(model, args);
  const node = id ? findNode(model.projects.current, id) : null;
  return node?.shot?.id ?? null;
}

/** The parent a new node of `kind` goes under, from the arguments or the selection. */
function parentFor(
  model: StudioModel,
  kind: CreatableKind,
  args: ReadonlyPartialJSONObject
): string | null | undefined {
  if (kind === 'chapter') {
    return null;
  }
  const id =
    typeof args.parentId === 'string'
      ? args.parentId
      : (model.selection.current?.id ?? null);
  const node = id ? findNode(model.projects.current, id) : null;
  if (kind === 'scene') {
    return node?.chapter.id ?? model.projects.current?.chapters[0]?.id;
  }
  return node?.scene?.id ?? node?.chapter.scenes[0]?.id;
}

/** The default name of the next node of `kind` under `parentId`, e.g. "Shot 4". */
function nextName(
  model: StudioModel,
  kind: CreatableKind,
  parentId: string | null
): string {
  const label = kind[0].toUpperCase() + kind.slice(1);
  const project = model.projects.current;
  let count = 0;
  if (project && parentId === null) {
    count = project.chapters.length;
  } else if (project && parentId) {
    const parent = findNode(project, parentId);
    count =
      parent?.kind === 'chapter'
        ? parent.chapter.scenes.length
        : parent?.kind === 'scene'
          ? (parent.scene?.shots.length ?? 0)
          : 0;
  }
  return `${label} ${count + 1}`;
}

/**
 * Register the studio's commands.
 */
export function registerCommands(
  app: JupyterFrontEnd,
  model: StudioModel,
  context: ICommandContext
): void {
  const { commands } = app;
  const hasProject = (): boolean => model.projects.current !== null;
  const ignore = (): undefined => undefined;
  // Toolbar buttons and menus read `isEnabled` when told that a command changed.
  const refreshState = (): void => commands.notifyCommandChanged();
  model.projects.currentChanged.connect(refreshState);
  model.selection.changed.connect(refreshState);

  commands.addCommand(CommandIDs.newProject, {
    label: 'New Studio Project…',
    caption: 'Create a film project in the workspace',
    icon: addIcon,
    execute: async () => {
      let name = '';
      let quality: Quality = model.settings.defaultQuality;
      let warned = false;
      for (;;) {
        const result = await showDialog({
          title: 'New Project',
          body: new NewProjectBody(quality, name, warned),
          buttons: [
            Dialog.cancelButton(),
            Dialog.okButton({ label: 'Create' })
          ],
          focusNodeSelector: 'input'
        });
        if (!result.button.accept || !result.value) {
          return;
        }
        ({ name, quality } = result.value);
        if (name) {
          break;
        }
        // said inside the dialog, shown again (Create stays disabled while the name is empty)
        warned = true;
      }
      const created = await model.projects.create(name, quality).catch(ignore);
      if (created) {
        context.openStudio();
      }
    }
  });

  commands.addCommand(CommandIDs.openProject, {
    label: args =>
      args.projectId ? `Open Project ${args.projectId}` : 'Open Project',
    execute: async args => {
      if (typeof args.projectId === 'string') {
        await model.projects.open(args.projectId).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.openStudio, {
    label: args => (args.isLauncher ? 'Generative Studio' : 'Open Studio'),
    caption: 'Open the Generative Media Studio main view',
    icon: args => (args.isPalette ? undefined : studioIcon),
    execute: () => context.openStudio()
  });

  commands.addCommand(CommandIDs.previewAsset, {
    label: 'Preview Asset',
    execute: args => {
      const path =
        typeof args.path === 'string'
          ? args.path
          : model.selection.current?.kind === 'asset'
            ? model.selection.current.id
            : null;
      if (path) {
        model.selection.select({ kind: 'asset', id: path });
        context.openStudio();
      }
    }
  });

  commands.addCommand(CommandIDs.openExport, {
    label: 'Open Export',
    caption: 'Play or show an export in the Studio',
    execute: args => {
      const path =
        typeof args.path === 'string'
          ? args.path
          : model.selection.current?.kind === 'export'
            ? model.selection.current.id
            : null;
      if (path) {
        model.selection.select({ kind: 'export', id: path });
        context.openStudio();
      }
    }
  });

  commands.addCommand(CommandIDs.exportScope, {
    label: args => {
      const kind = EXPORT_KINDS.find(k => k.kind === args.kind);
      const scope = exportScope(model, args);
      const of = args.isPalette && scope ? ` of ${scope.name}` : '';
      return kind ? `Export ${kind.label}${of}` : 'Export…';
    },
    caption: 'Export a scene, a chapter or the film for an editor (06_Exports)',
    isEnabled: args => hasProject() && exportScope(model, args) !== null,
    execute: async args => {
      const scope = exportScope(model, args);
      if (!scope) {
        return;
      }
      let kind = EXPORT_KINDS.find(k => k.kind === args.kind)?.kind;
      if (!kind) {
        const choice = await InputDialog.getItem({
          title: `Export ${scope.name}`,
          label: 'Export as',
          items: EXPORT_KINDS.map(k => k.label),
          okLabel: 'Export'
        });
        kind = EXPORT_KINDS.find(k => k.label === choice.value)?.kind;
        if (!choice.button.accept || !kind) {
          return;
        }
      }
      const taskId = await model.exports.start(kind, scope.id).catch(ignore);
      if (taskId) {
        // replaced by the task's own notice when it ends (ready, or why it failed)
        model.notices.notify({
          type: 'in-progress',
          message: `Exporting ${EXPORT_KINDS.find(k => k.kind === kind)?.label} of ${scope.name}…`,
          key: taskId
        });
        // a quick export may have ended already, its record read before its own events
        model.tasks.tellIfEnded(taskId);
      }
    }
  });

  commands.addCommand(CommandIDs.generateTake, {
    label: 'Generate Take…',
    caption: 'Generate a take of the selected shot',
    icon: args => (args.isPalette ? undefined : runIcon),
    isEnabled: args => hasProject() && targetShot(model, args) !== null,
    execute: async args => {
      const shotId = targetShot(model, args);
      if (!shotId) {
        Notification.warning('Select a shot to generate a take for');
        return;
      }
      const direct: IGenerateValue | null =
        typeof args.pipeline === 'string' && args.direct === true
          ? {
              pipeline: args.pipeline,
              parameters: (args.parameters ?? {}) as JSONRecord
            }
          : null;
      const shot = findNode(model.projects.current, shotId)?.shot;
      // Generate again starts from the take; otherwise from what this shot was last asked with
      const initial: Partial<IGenerateValue> =
        typeof args.pipeline === 'string'
          ? {
              pipeline: args.pipeline,
              parameters: (args.parameters ?? undefined) as
                JSONRecord | undefined
            }
          : (model.memory.generationOf(shotId) ?? {});
      const choice =
        direct ??
        (await askGeneration(model, {
          title: `Generate a Take of ${shot?.name ?? 'the Shot'}`,
          shot,
          initial
        }));
      if (!choice) {
        return;
      }
      model.memory.rememberGeneration(shotId, choice);
      await model.tasks
        .generate(shotId, choice.pipeline, choice.parameters, choice.count)
        .catch(ignore);
    }
  });

  const addNode = (kind: CreatableKind, id: string): void => {
    const label = kind[0].toUpperCase() + kind.slice(1);
    commands.addCommand(id, {
      label: `Add ${label}…`,
      caption: `Add a ${kind} to the project`,
      icon: args => (args.isPalette ? undefined : addIcon),
      isEnabled: args =>
        hasProject() && parentFor(model, kind, args) !== undefined,
      execute: async args => {
        const parentId = parentFor(model, kind, args);
        if (parentId === undefined) {
          Notification.warning(
            `Add a ${kind === 'scene' ? 'chapter' : 'scene'} first`
          );
          return;
        }
        const result = await InputDialog.getText({
          title: `Add ${label}`,
          label: 'Name',
          text: nextName(model, kind, parentId),
          okLabel: 'Add'
        });
        const name = result.value?.trim();
        if (!result.button.accept || !name) {
          return;
        }
        await model.projects.addNode(kind, parentId, name).catch(ignore);
      }
    });
  };
  addNode('chapter', CommandIDs.addChapter);
  addNode('scene', CommandIDs.addScene);
  addNode('shot', CommandIDs.addShot);

  commands.addCommand(CommandIDs.rename, {
    label: 'Rename…',
    caption: 'Rename the selected project, chapter, scene or shot',
    icon: args => (args.isPalette ? undefined : editIcon),
    isEnabled: args => {
      const id = targetId(model, args);
      const kind =
        id === model.projects.id
          ? 'project'
          : findNode(model.projects.current, id ?? '')?.kind;
      return hasProject() && kind !== undefined && kind !== 'take';
    },
    execute: async args => {
      const found = target(model, args);
      if (!found) {
        return;
      }
      const { project, id, isProject, node } = found;
      const current = isProject ? project.name : node!.name;
      const result = await InputDialog.getText({
        title: `Rename ${isProject ? 'Project' : (node?.kind ?? '').replace(/^./, c => c.toUpperCase())}`,
        label: 'Name',
        text: current,
        okLabel: 'Rename'
      });
      const name = result.value?.trim();
      if (!result.button.accept || !name || name === current) {
        return;
      }
      if (isProject) {
        await model.projects.save({ name }, project.version).catch(ignore);
      } else {
        await model.projects.renameNode(id, name).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.remove, {
    label: 'Move to Trash…',
    caption:
      'Move the selected item, with everything under it and its files, to the trash',
    icon: args => (args.isPalette ? undefined : deleteIcon),
    isEnabled: args => hasProject() && targetId(model, args) !== null,
    execute: async args => {
      const found = target(model, args);
      if (!found) {
        return;
      }
      const { project, id, isProject, node } = found;
      const what = isProject
        ? `the project "${project.name}"`
        : `${node!.kind} "${node!.name}"`;
      const goes = isProject
        ? 'Its folder, history and files go with it.'
        : node!.kind === 'take'
          ? 'Its file, sidecar and thumbnail go with it.'
          : "Everything in it goes with it, with its takes' files.";
      const result = await showDialog({
        title: 'Move to Trash',
        body: `Move ${what} to the trash? ${goes} You can restore it from the Trash until it is emptied.`,
        buttons: [
          Dialog.cancelButton(),
          Dialog.warnButton({ label: 'Move to Trash' })
        ]
      });
      if (!result.button.accept) {
        return;
      }
      const trashId = isProject
        ? await model.projects.remove(project.id).catch(ignore)
        : await model.projects.deleteNode(id).catch(ignore);
      if (trashId) {
        const label = what.charAt(0).toUpperCase() + what.slice(1);
        Notification.info(`${label} is in the trash.`, {
          autoClose: 8000,
          actions: [
            {
              label: 'Undo',
              callback: () =>
                void commands.execute(CommandIDs.restoreFromTrash, {
                  id: trashId
                })
            },
            {
              label: 'Open Trash',
              callback: () => void commands.execute(CommandIDs.openTrash)
            }
          ]
        });
      }
    }
  });

  commands.addCommand(CommandIDs.selectTake, {
    label: 'Select This Take',
    caption: "Make the take the shot's chosen take",
    isEnabled: args => {
      const node = findNode(
        model.projects.current,
        targetId(model, args) ?? ''
      );
      return node?.kind === 'take' && node.take?.status === 'completed';
    },
    execute: async args => {
      const node = findNode(
        model.projects.current,
        targetId(model, args) ?? ''
      );
      if (node?.kind === 'take' && node.shot) {
        await model.projects.selectTake(node.shot.id, node.id).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.commit, {
    label: 'Commit Project…',
    caption: "Record the project's changes in git",
    isEnabled: hasProject,
    execute: async () => {
      const result = await InputDialog.getText({
        title: 'Commit Project',
        label: 'Message',
        placeholder: 'What changed',
        okLabel: 'Commit'
      });
      const message = result.value?.trim();
      if (result.button.accept && message) {
        await model.commit(message).catch(ignore);
      }
    }
  });

  commands.addCommand(CommandIDs.refresh, {
    label: 'Refresh Studio',
    caption: 'Re-read the workspace, the projects and the open project',
    icon: args => (args.isPalette ? undefined : refreshIcon),
    execute: async () => {
      await model.refresh();
    }
  });
}

/** The context-menu entries of the Project Browser's tree, by the kind of the item clicked. */
export const TREE_CONTEXT_MENU: {
  command: string;
  kinds: string[];
  rank: number;
}[] = [
  { command: CommandIDs.addChapter, kinds: ['project', 'chapter'], rank: 1 },
  { command: CommandIDs.addScene, kinds: ['chapter', 'scene'], rank: 2 },
  { command: CommandIDs.addShot, kinds: ['scene', 'shot'], rank: 3 },
  { command: CommandIDs.generateTake, kinds: ['shot', 'take'], rank: 4 },
  { command: CommandIDs.generateScene, kinds: ['scene'], rank: 4.5 },
  { command: CommandIDs.selectTake, kinds: ['take'], rank: 5 },
  { command: CommandIDs.viewTake, kinds: ['take'], rank: 5.2 },
  { command: CommandIDs.dismissTake, kinds: ['take'], rank: 5.4 },
  {
    command: CommandIDs.openStudio,
    kinds: ['chapter', 'scene', 'shot', 'take'],
    rank: 6
  },
  {
    command: CommandIDs.rename,
    kinds: ['project', 'chapter', 'scene', 'shot'],
    rank: 7
  },
  {
    command: CommandIDs.remove,
    kinds: ['chapter', 'scene', 'shot', 'take'],
    rank: 8
  },
  { command: CommandIDs.commit, kinds: ['project'], rank: 9 },
  { command: CommandIDs.openTrash, kinds: ['project'], rank: 10 }
];
