/**
 * The Project Browser: a project picker and the tree Project → Chapter → Scene → Shot → Take, with
 * keyboard navigation, inline rename, drag to reorder and live take status.
 */
import {
  HTMLSelect,
  ReactWidget,
  caretDownIcon,
  caretRightIcon,
  addIcon,
  linkIcon,
  runIcon,
  Toolbar
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import React, { useEffect, useMemo, useRef, useState } from 'react';

import { findNode, ILocatedNode, PARENT_KIND, takeLabel } from '../hierarchy';
import { iconForKind, studioIcon } from '../icons';
import type { StudioModel } from '../model';
import { CommandIDs, NODE_MIME, WidgetIDs } from '../tokens';
import { STATUS_LABELS } from '../types';
import type { IProject, ITaskRecord, SelectionKind } from '../types';
import { useSignals } from './hooks';
import { addDroppedReference, carriesAsset } from './references';
import { commandButton } from './sectionToolbar';
import { StatusBanner } from './statusBanner';

/** One visible row of the tree. */
export interface ITreeRow {
  id: string;
  kind: SelectionKind;
  name: string;
  level: number;
  parentId: string | null;
  /** Position among its siblings. */
  index: number;
  hasChildren: boolean;
  expanded: boolean;
  /** For takes: generating, completed or error; for shots: running when a task is in flight. */
  status?: string;
  /** Progress (0–1) of the task behind a generating take or a busy shot. */
  progress?: number;
  /** For shots: whether this take is the selected one. */
  isSelectedTake?: boolean;
  /** For shots: how many reference assets it has. */
  references?: number;
}

/**
 * The rows the tree shows: the project, then each expanded node's children, depth first.
 *
 * @param expanded - ids of the expanded nodes (the project's id included)
 * @param tasks - the project's tasks, for the live status of shots and takes
 */
export function buildRows(
  project: IProject,
  expanded: ReadonlySet<string>,
  tasks: ReadonlyMap<string, ITaskRecord>
): ITreeRow[] {
  const running = new Map<string, ITaskRecord>();
  const byTake = new Map<string, ITaskRecord>();
  for (const task of tasks.values()) {
    if (task.status === 'pending' || task.status === 'running') {
      running.set(task.nodeId, task);
    }
    if (task.takeId) {
      byTake.set(task.takeId, task);
    }
  }
  const rows: ITreeRow[] = [];
  const projectOpen = expanded.has(project.id);
  rows.push({
    id: project.id,
    kind: 'project',
    name: project.name,
    level: 1,
    parentId: null,
    index: 0,
    hasChildren: project.chapters.length > 0,
    expanded: projectOpen
  });
  if (!projectOpen) {
    return rows;
  }
  project.chapters.forEach((chapter, ci) => {
    const chapterOpen = expanded.has(chapter.id);
    rows.push({
      id: chapter.id,
      kind: 'chapter',
      name: chapter.name,
      level: 2,
      parentId: null,
      index: ci,
      hasChildren: chapter.scenes.length > 0,
      expanded: chapterOpen
    });
    if (!chapterOpen) {
      return;
    }
    chapter.scenes.forEach((scene, si) => {
      const sceneOpen = expanded.has(scene.id);
      rows.push({
        id: scene.id,
        kind: 'scene',
        name: scene.name,
        level: 3,
        parentId: chapter.id,
        index: si,
        hasChildren: scene.shots.length > 0,
        expanded: sceneOpen
      });
      if (!sceneOpen) {
        return;
      }
      scene.shots.forEach((shot, hi) => {
        const shotOpen = expanded.has(shot.id);
        const busy = running.get(shot.id);
        rows.push({
          id: shot.id,
          kind: 'shot',
          name: shot.name,
          level: 4,
          parentId: scene.id,
          index: hi,
          hasChildren: shot.takes.length > 0,
          expanded: shotOpen,
          status: busy ? busy.status : undefined,
          references: shot.references?.length ?? 0,
          // An open shot shows the progress on its generating take instead.
          progress: busy && !shotOpen ? busy.progress : undefined
        });
        if (!shotOpen) {
          return;
        }
        shot.takes.forEach((take, ti) => {
          const task =
            (take.taskId ? tasks.get(take.taskId) : undefined) ??
            byTake.get(take.id);
          rows.push({
            id: take.id,
            kind: 'take',
            name: takeLabel(shot, take),
            level: 5,
            parentId: shot.id,
            index: ti,
            hasChildren: false,
            expanded: false,
            status: take.status,
            progress: take.status === 'generating' ? task?.progress : undefined,
            isSelectedTake: shot.selectedTake === take.id
          });
        });
      });
    });
  });
  return rows;
}

/** Where a dragged node would land relative to the row under the pointer. */
export type DropPosition = 'before' | 'after' | 'into';

/**
 * Where a node dropped on `target` goes: its new parent and its index there (after it has left
 * its old place), or null when the drop is not allowed.
 */
export function dropTarget(
  dragged: Pick<ITreeRow, 'id' | 'kind' | 'parentId' | 'index'>,
  target: ITreeRow,
  position: DropPosition,
  childCount: (parentId: string) => number
): { parentId: string | null; index: number } | null {
  if (
    dragged.id === target.id ||
    dragged.kind === 'project' ||
    dragged.kind === 'take'
  ) {
    return null;
  }
  if (position === 'into') {
    if (
      PARENT_KIND[dragged.kind as 'chapter' | 'scene' | 'shot'] !== target.kind
    ) {
      return null;
    }
    const count = childCount(target.id);
    return {
      parentId: target.id,
      index: dragged.parentId === target.id ? count - 1 : count
    };
  }
  if (target.kind !== dragged.kind) {
    return null;
  }
  let index = position === 'before' ? target.index : target.index + 1;
  if (target.parentId === dragged.parentId && dragged.index < index) {
    index -= 1;
  }
  if (target.parentId === dragged.parentId && index === dragged.index) {
    return null;
  }
  return { parentId: target.parentId, index };
}

/** Props of the tree view. */
interface IProjectBrowserProps {
  model: StudioModel;
  commands: CommandRegistry;
}

/** The kind that a row's "add" goes into, and the command that adds it. */
/** What a row's "+" does, said on the button. */
const ADD_LABEL: { [kind: string]: string } = {
  project: 'Add Chapter…',
  chapter: 'Add Scene…',
  scene: 'Add Shot…',
  shot: 'Generate Take…'
};

const ADD_CHILD: { [kind: string]: string } = {
  project: CommandIDs.addChapter,
  chapter: CommandIDs.addScene,
  scene: CommandIDs.addShot,
  shot: CommandIDs.generateTake
};

function ProjectBrowserView(props: IProjectBrowserProps): React.ReactElement {
  const { model, commands } = props;
  const { project, projects, selection, tasks, projectId } = useSignals(
    [
      model.projects.currentChanged,
      model.projects.listChanged,
      model.selection.changed,
      model.tasks.changed
    ],
    () => ({
      project: model.projects.current,
      projects: model.projects.list,
      selection: model.selection.current,
      tasks: model.tasks.all,
      projectId: model.projects.id
    })
  );
  const [expanded, setExpanded] = useState<Set<string>>(() => new Set());
  const [focusedId, setFocusedId] = useState<string | null>(null);
  const [renamingId, setRenamingId] = useState<string | null>(null);
  const [drop, setDrop] = useState<{
    id: string;
    position: DropPosition;
  } | null>(null);
  const dragged = useRef<ITreeRow | null>(null);
  // the shot an asset is dragged over (it becomes a reference when dropped)
  const [referenceDrop, setReferenceDrop] = useState<string | null>(null);
  const treeRef = useRef<HTMLUListElement>(null);

  // A newly opened project starts with its chapters and scenes open.
  useEffect(() => {
    if (!project) {
      return;
    }
    setExpanded(previous => {
      if (previous.has(project.id)) {
        return previous;
      }
      const next = new Set(previous);
      next.add(project.id);
      for (const chapter of project.chapters) {
        next.add(chapter.id);
      }
      return next;
    });
  }, [project?.id]);

  // Selecting a node elsewhere (main view, notification) reveals it here.
  useEffect(() => {
    if (
      !project ||
      !selection ||
      selection.kind === 'asset' ||
      selection.kind === 'export'
    ) {
      return;
    }
    const node = findNode(project, selection.id);
    setFocusedId(selection.id);
    if (!node) {
      return;
    }
    const ancestors = [
      project.id,
      node.chapter.id,
      node.scene?.id,
      node.kind === 'take' ? node.shot?.id : undefined
    ];
    setExpanded(previous => {
      if (
        ancestors.every(id => !id || id === selection.id || previous.has(id))
      ) {
        return previous;
      }
      const next = new Set(previous);
      for (const id of ancestors) {
        if (id && id !== selection.id) {
          next.add(id);
        }
      }
      return next;
    });
  }, [selection?.id, project]);

  // A shot that starts generating opens (once per task, so that the user may close it again),
  // so that its new take shows up under it.
  const revealed = useRef(new Set<string>());
  useEffect(() => {
    if (!project) {
      return;
    }
    const shots: ILocatedNode[] = [];
    for (const task of tasks.values()) {
      if (
        revealed.current.has(task.taskId) ||
        (task.status !== 'pending' && task.status !== 'running')
      ) {
        continue;
      }
      revealed.current.add(task.taskId);
      const node = findNode(project, task.nodeId);
      if (node?.kind === 'shot' && node.scene) {
        shots.push(node);
      }
    }
    if (shots.length === 0) {
      return;
    }
    setExpanded(previous => {
      const next = new Set(previous);
      for (const node of shots) {
        next.add(project.id);
        next.add(node.chapter.id);
        next.add(node.scene!.id);
        next.add(node.id);
      }
      return next;
    });
  }, [tasks, project]);

  const rows = useMemo(
    () => (project ? buildRows(project, expanded, tasks) : []),
    [project, expanded, tasks]
  );

  // Keep keyboard focus on the focused row after re-renders.
  useEffect(() => {
    if (!focusedId || !treeRef.current?.contains(document.activeElement)) {
      return;
    }
    const element = treeRef.current.querySelector<HTMLElement>(
      `[data-node-id="${CSS.escape(focusedId)}"]`
    );
    if (element && element !== document.activeElement && renamingId === null) {
      element.focus();
    }
  }, [focusedId, rows, renamingId]);

  const toggle = (id: string, open?: boolean): void => {
    setExpanded(previous => {
      const next = new Set(previous);
      const shouldOpen = open ?? !next.has(id);
      if (shouldOpen) {
        next.add(id);
      } else {
        next.delete(id);
      }
      return next;
    });
  };

  const selectRow = (row: ITreeRow): void => {
    setFocusedId(row.id);
    model.selection.select({ kind: row.kind, id: row.id });
  };

  const activate = (row: ITreeRow): void => {
    selectRow(row);
    if (row.kind === 'take' && row.status === 'completed') {
      void commands.execute(CommandIDs.viewTake, { nodeId: row.id });
    } else if (row.kind !== 'project') {
      void commands.execute(CommandIDs.openStudio);
    }
  };

  const onKeyDown = (event: React.KeyboardEvent): void => {
    if (renamingId !== null || rows.length === 0) {
      return;
    }
    const position = Math.max(
      0,
      rows.findIndex(row => row.id === (focusedId ?? selection?.id))
    );
    const row = rows[position];
    const move = (to: number): void => {
      const target = rows[Math.max(0, Math.min(rows.length - 1, to))];
      selectRow(target);
    };
    let handled = true;
    switch (event.key) {
      case 'ArrowDown':
        move(position + 1);
        break;
      case 'ArrowUp':
        move(position - 1);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(rows.length - 1);
        break;
      case 'ArrowRight':
        if (row.hasChildren && !row.expanded) {
          toggle(row.id, true);
        } else if (row.hasChildren) {
          move(position + 1);
        }
        break;
      case 'ArrowLeft':
        if (row.expanded) {
          toggle(row.id, false);
        } else {
          const parent = row.kind === 'chapter' ? project?.id : row.parentId;
          const parentRow = rows.find(candidate => candidate.id === parent);
          if (parentRow) {
            selectRow(parentRow);
          }
        }
        break;
      case 'Enter':
        activate(row);
        break;
      case 'F2':
        selectRow(row);
        setRenamingId(row.kind === 'take' ? null : row.id);
        break;
      case 'Delete':
        selectRow(row);
        void commands.execute(CommandIDs.remove, {
          nodeId: row.id,
          kind: row.kind
        });
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  };

  const commitRename = (row: ITreeRow, name: string): void => {
    setRenamingId(null);
    const trimmed = name.trim();
    if (!trimmed || trimmed === row.name) {
      return;
    }
    if (row.kind === 'project' && project) {
      void model.projects
        .save({ name: trimmed }, project.version)
        .catch(() => undefined);
    } else {
      void model.projects.renameNode(row.id, trimmed).catch(() => undefined);
    }
  };

  const childCount = (parentId: string): number =>
    project ? countChildren(project, parentId) : 0;

  const dropPosition = (
    event: React.DragEvent,
    row: ITreeRow
  ): DropPosition | null => {
    const source = dragged.current;
    if (!source) {
      return null;
    }
    if (row.kind === PARENT_KIND[source.kind as 'chapter' | 'scene' | 'shot']) {
      return 'into';
    }
    if (row.kind !== source.kind) {
      return null;
    }
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    return event.clientY - box.top < box.height / 2 ? 'before' : 'after';
  };

  const renderRow = (row: ITreeRow): React.ReactElement => {
    const Icon = iconForKind(row.kind);
    const isSelected = selection?.id === row.id;
    const isFocused = (focusedId ?? selection?.id ?? rows[0]?.id) === row.id;
    const draggable =
      row.kind === 'chapter' || row.kind === 'scene' || row.kind === 'shot';
    const dropClass =
      (drop?.id === row.id ? ` gms-mod-drop-${drop.position}` : '') +
      (referenceDrop === row.id ? ' gms-mod-dropReference' : '');
    return (
      <li
        key={row.id}
        role="treeitem"
        className={
          'gms-TreeItem' +
          (isSelected ? ' gms-mod-selected' : '') +
          (row.status ? ` gms-mod-status-${row.status}` : '') +
          dropClass
        }
        style={{ paddingLeft: `${(row.level - 1) * 14 + 4}px` }}
        aria-level={row.level}
        aria-selected={isSelected}
        aria-expanded={row.hasChildren ? row.expanded : undefined}
        tabIndex={isFocused ? 0 : -1}
        data-testid="gms-tree-item"
        data-node-id={row.id}
        data-kind={row.kind}
        data-status={row.status}
        draggable={draggable && renamingId !== row.id}
        onClick={() => selectRow(row)}
        onDoubleClick={() => activate(row)}
        onContextMenu={() => selectRow(row)}
        onDragStart={event => {
          dragged.current = row;
          event.dataTransfer.setData(
            NODE_MIME,
            JSON.stringify({ id: row.id, kind: row.kind })
          );
          event.dataTransfer.effectAllowed = 'move';
        }}
        onDragEnd={() => {
          dragged.current = null;
          setDrop(null);
        }}
        onDragOver={event => {
          if (row.kind === 'shot' && carriesAsset(event)) {
            // an asset from the Asset Browser: it becomes a reference of the shot
            event.preventDefault();
            event.dataTransfer.dropEffect = 'link';
            setReferenceDrop(row.id);
            return;
          }
          if (!event.dataTransfer.types.includes(NODE_MIME)) {
            return;
          }
          const position = dropPosition(event, row);
          const source = dragged.current;
          if (
            !position ||
            !source ||
            !dropTarget(source, row, position, childCount)
          ) {
            setDrop(null);
            return;
          }
          event.preventDefault();
          event.dataTransfer.dropEffect = 'move';
          if (drop?.id !== row.id || drop.position !== position) {
            setDrop({ id: row.id, position });
          }
        }}
        onDragLeave={event => {
          // moving onto a child of the row is not leaving it
          if (
            event.currentTarget.contains(event.relatedTarget as Node | null)
          ) {
            return;
          }
          setDrop(current => (current?.id === row.id ? null : current));
          setReferenceDrop(current => (current === row.id ? null : current));
        }}
        onDrop={event => {
          if (row.kind === 'shot' && carriesAsset(event)) {
            event.preventDefault();
            setReferenceDrop(null);
            addDroppedReference(model, row.id, event);
            return;
          }
          const source = dragged.current;
          const position = dropPosition(event, row);
          setDrop(null);
          dragged.current = null;
          if (!source || !position) {
            return;
          }
          const target = dropTarget(source, row, position, childCount);
          if (target) {
            event.preventDefault();
            void model.projects
              .moveNode(source.id, target.parentId, target.index)
              .catch(() => undefined);
          }
        }}
      >
        <span
          className="gms-TreeItem-caret"
          onClick={event => {
            event.stopPropagation();
            if (row.hasChildren) {
              toggle(row.id);
            }
          }}
        >
          {row.hasChildren ? (
            row.expanded ? (
              <caretDownIcon.react tag="span" />
            ) : (
              <caretRightIcon.react tag="span" />
            )
          ) : null}
        </span>
        <Icon.react tag="span" className="gms-TreeItem-icon" />
        {renamingId === row.id ? (
          <input
            className="gms-TreeItem-rename jp-mod-styled"
            data-testid="gms-rename-input"
            defaultValue={row.name}
            autoFocus
            onFocus={event => event.currentTarget.select()}
            onClick={event => event.stopPropagation()}
            onKeyDown={event => {
              event.stopPropagation();
              if (event.key === 'Enter') {
                commitRename(row, event.currentTarget.value);
              } else if (event.key === 'Escape') {
                setRenamingId(null);
              }
            }}
            onBlur={event => commitRename(row, event.currentTarget.value)}
          />
        ) : (
          <span className="gms-TreeItem-label" title={row.name}>
            {row.name}
          </span>
        )}
        {row.isSelectedTake ? (
          <span
            className="gms-TreeItem-badge gms-mod-chosen"
            title="Selected take"
          >
            ★
          </span>
        ) : null}
        {row.progress !== undefined ? (
          <span
            className="gms-TreeItem-progress"
            title={`${Math.round(row.progress * 100)}%`}
          >
            {Math.round(row.progress * 100)}%
          </span>
        ) : null}
        {row.kind === 'take' &&
        row.status &&
        row.status !== 'completed' &&
        row.progress === undefined ? (
          <span className={`gms-TreeItem-badge gms-mod-${row.status}`}>
            {STATUS_LABELS[row.status] ?? row.status}
          </span>
        ) : null}
        {referenceDrop === row.id ? (
          <span className="gms-TreeItem-dropHint">Add as Reference</span>
        ) : row.references ? (
          <span
            className="gms-TreeItem-badge gms-mod-references"
            title={`${row.references} reference asset${row.references === 1 ? '' : 's'}`}
            data-testid="gms-tree-references"
          >
            <linkIcon.react tag="span" className="gms-TreeItem-badgeIcon" />
            {row.references}
          </span>
        ) : null}
        {ADD_CHILD[row.kind] && isSelected ? (
          <button
            className="gms-TreeItem-add jp-Button jp-mod-minimal"
            title={ADD_LABEL[row.kind]}
            aria-label={ADD_LABEL[row.kind]}
            data-testid="gms-tree-add"
            data-action={row.kind === 'shot' ? 'generate' : 'add'}
            onClick={event => {
              event.stopPropagation();
              void commands.execute(ADD_CHILD[row.kind], {
                parentId: row.id,
                nodeId: row.id
              });
            }}
          >
            {row.kind === 'shot' ? (
              <runIcon.react tag="span" />
            ) : (
              <addIcon.react tag="span" />
            )}
          </button>
        ) : null}
      </li>
    );
  };

  return (
    <div className="gms-Panel">
      <div className="gms-Panel-toolbar">
        <HTMLSelect
          className="gms-Select gms-ProjectPicker"
          data-testid="gms-project-picker"
          aria-label="Project"
          title="The project shown in the studio"
          value={projectId ?? ''}
          onFocus={() => void model.projects.load().catch(() => undefined)}
          onChange={event =>
            void model.projects
              .open(event.currentTarget.value || null)
              .catch(() => undefined)
          }
        >
          <option value="">
            {projects.length ? 'Choose a project…' : 'No projects yet'}
          </option>
          {projects.map(summary => (
            <option
              key={summary.id}
              value={summary.id}
              title={
                summary.damaged
                  ? `${summary.damaged.path} cannot be read: ${summary.damaged.reason}`
                  : undefined
              }
            >
              {summary.damaged
                ? `${summary.name} (damaged: ${summary.damaged.path} cannot be read)`
                : summary.name}
            </option>
          ))}
        </HTMLSelect>
      </div>
      <StatusBanner model={model} />
      <div className="gms-Panel-body">
        {project ? (
          <ul
            ref={treeRef}
            className="gms-Tree"
            role="tree"
            aria-label={`Project ${project.name}`}
            data-testid="gms-tree"
            onKeyDown={onKeyDown}
          >
            {rows.map(renderRow)}
          </ul>
        ) : (
          <div className="gms-Empty" data-testid="gms-no-project">
            {projectId ? (
              <p>Opening {projectId}…</p>
            ) : (
              <>
                <p>No project is open.</p>
                <button
                  className="jp-mod-styled jp-mod-accept"
                  onClick={() => void commands.execute(CommandIDs.newProject)}
                >
                  New Project
                </button>
              </>
            )}
          </div>
        )}
        {project && project.chapters.length === 0 ? (
          <div className="gms-Empty gms-mod-inline">
            <p>A film is made of chapters, scenes and shots.</p>
            <button
              className="jp-mod-styled jp-mod-accept"
              data-testid="gms-add-first-chapter"
              onClick={() => void commands.execute(CommandIDs.addChapter)}
            >
              Add Chapter
            </button>
          </div>
        ) : null}
      </div>
    </div>
  );
}

function countChildren(project: IProject, parentId: string): number {
  const node = findNode(project, parentId);
  if (!node) {
    return 0;
  }
  switch (node.kind) {
    case 'chapter':
      return node.chapter.scenes.length;
    case 'scene':
      return node.scene?.shots.length ?? 0;
    case 'shot':
      return node.shot?.takes.length ?? 0;
    default:
      return 0;
  }
}

/**
 * The Project Browser side panel.
 */
export class ProjectBrowser extends ReactWidget {
  /**
   * @param model - the studio model
   * @param commands - the application's commands (add, rename, delete, open studio…)
   */
  constructor(
    private readonly model: StudioModel,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = WidgetIDs.projectBrowser;
    this.addClass('gms-ProjectBrowser');
    this.node.dataset.testid = 'gms-project-browser';
    this.title.icon = studioIcon;
    this.title.label = 'Project Browser';
    this.title.caption = 'The film: chapters, scenes, shots and takes';
    this.toolbar.addItem(
      'new-project',
      commandButton(commands, CommandIDs.newProject, 'gms-new-project-button')
    );
    this.toolbar.addItem(
      'refresh',
      commandButton(commands, CommandIDs.refresh, 'gms-refresh-button')
    );
  }

  /** The section's title-bar buttons. */
  readonly toolbar = new Toolbar();

  protected render(): React.ReactElement {
    return <ProjectBrowserView model={this.model} commands={this.commands} />;
  }
}
