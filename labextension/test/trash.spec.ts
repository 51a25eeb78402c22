/**
 * The Trash: its model over a fake trash API (restore, erase, empty, a restore that cannot go
 * back), the labels it shows, and the view rendered in jsdom.
 */
import { Widget } from '@lumino/widgets';
import { describe, expect, it } from 'vitest';

import { ITrashAPI, StudioAPIError } from '../src/api';
import { TrashView, formatExpiry } from '../src/panels/trash';
import { TrashModel, formatSize, trashLabel, trashWhere } from '../src/trash';
import type { ITrashItem } from '../src/types';

function item(over: Partial<ITrashItem>): ITrashItem {
  return {
    id: 'tr_1',
    kind: 'node',
    name: 'Pier',
    projectId: 'harbour',
    projectName: 'Harbour',
    deleted: new Date().toISOString(),
    expires: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    size: 2048,
    paths: ['03_Renders/ch/sc/sh/tk.png'],
    nodeKind: 'shot',
    where: ['Act 1', 'Dawn'],
    parentId: 'sc',
    index: 0,
    takeCount: 2,
    version: 7,
    deletedBy: 'ada',
    ...over
  };
}

/** A trash on the "server": items that restore, erase and empty act on. */
class FakeTrash implements ITrashAPI {
  items: ITrashItem[] = [
    item({ id: 'tr_2', kind: 'take', name: 'Take 3', nodeKind: 'take' }),
    item({}),
    item({
      id: 'tr_3',
      kind: 'project',
      name: 'Lighthouse',
      projectId: 'lighthouse',
      projectName: 'Lighthouse',
      nodeKind: null,
      where: []
    })
  ];
  conflict: string | null = null;

  async listTrash(projectId?: string | null) {
    return {
      items: this.items.filter(i => !projectId || i.projectId === projectId),
      retentionDays: 30
    };
  }
  async restoreTrashItem(itemId: string) {
    if (this.conflict) {
      throw new StudioAPIError('restore_conflict', this.conflict, 409);
    }
    const found = this.items.find(i => i.id === itemId)!;
    this.items = this.items.filter(i => i.id !== itemId);
    return { item: found, projectId: found.projectId, version: 8 };
  }
  async eraseTrashItem(itemId: string) {
    this.items = this.items.filter(i => i.id !== itemId);
  }
  async emptyTrash(projectId?: string | null) {
    const gone = this.items.filter(
      i => !projectId || i.projectId === projectId
    );
    this.items = this.items.filter(i => !gone.includes(i));
    return { deleted: gone.map(i => i.id) };
  }
}

describe('Trash model', () => {
  it('lists, restores (telling who needs to know), erases and empties', async () => {
    const api = new FakeTrash();
    const restored: string[] = [];
    const trash = new TrashModel(api, i => restored.push(i.id));
    await trash.refresh();
    expect(trash.items.map(i => i.id)).toEqual(['tr_2', 'tr_1', 'tr_3']);
    expect(trash.retentionDays).toBe(30);

    expect(await trash.restore('tr_1')).toBe(true);
    expect(restored).toEqual(['tr_1']);
    expect(trash.items.map(i => i.id)).toEqual(['tr_2', 'tr_3']);

    expect(await trash.erase('tr_2')).toBe(true);
    trash.projectId = 'lighthouse';
    await trash.refresh();
    expect(trash.items.map(i => i.id)).toEqual(['tr_3']);
    expect(await trash.empty()).toBe(true);
    expect(trash.items).toEqual([]);
    expect(api.items).toEqual([]);
  });

  it('shows the last scope asked for when an earlier read answers after it', async () => {
    const api = new FakeTrash();
    const answers: Array<() => void> = [];
    const list = api.listTrash.bind(api);
    api.listTrash = async (projectId?: string | null) => {
      const answer = await list(projectId);
      await new Promise<void>(resolve => answers.push(resolve));
      return answer;
    };
    const trash = new TrashModel(api);
    const all = trash.refresh();
    trash.projectId = 'lighthouse';
    await Promise.resolve();
    await Promise.resolve();
    expect(answers).toHaveLength(2);
    answers[1](); // this project's read answers first…
    await new Promise(resolve => setTimeout(resolve, 0));
    answers[0](); // …then the read of every project
    await all;
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(trash.items.map(i => i.id)).toEqual(['tr_3']);
    expect(trash.busy).toBe(false);
  });

  it('keeps its buttons for a re-read, and reads again after an action that ran meanwhile', async () => {
    const api = new FakeTrash();
    const trash = new TrashModel(api);
    await trash.refresh();
    // a re-read in the background (the view shown again): the list as it was then, held back
    const list = api.listTrash.bind(api);
    let answer: (() => void) | null = null;
    api.listTrash = async (projectId?: string | null) => {
      const read = await list(projectId);
      await new Promise<void>(resolve => (answer = resolve));
      return read;
    };
    const reading = trash.refresh();
    await Promise.resolve();
    expect(trash.busy).toBe(true);
    expect(trash.acting).toBe(false); // the buttons stay usable
    // the user erases an item meanwhile
    api.listTrash = list;
    expect(await trash.erase('tr_2')).toBe(true);
    expect(trash.acting).toBe(false);
    api.items.push(item({ id: 'tr_4', name: 'Boat' })); // deleted elsewhere meanwhile
    answer!(); // the old read answers, still listing tr_2 (and not tr_4): not shown…
    await reading;
    await new Promise(resolve => setTimeout(resolve, 0));
    // …the trash was read again after the erase
    expect(trash.items.map(i => i.id)).toEqual(['tr_1', 'tr_3', 'tr_4']);
    expect(trash.busy).toBe(false);
  });

  it('says why an item cannot go back, and keeps it', async () => {
    const api = new FakeTrash();
    api.conflict = 'The scene it was in (Act 1 / Dawn) no longer exists.';
    const trash = new TrashModel(api);
    await trash.refresh();
    expect(await trash.restore('tr_1')).toBe(false);
    expect(trash.error).toBe(api.conflict);
    expect(trash.items.map(i => i.id)).toContain('tr_1');
  });

  it('labels items the way the tree names them', () => {
    expect(trashLabel(item({}))).toBe('Shot “Pier”');
    expect(trashLabel(item({ kind: 'take', name: 'Take 3' }))).toBe('Take 3');
    expect(trashLabel(item({ kind: 'project', name: 'Harbour' }))).toBe(
      'Project “Harbour”'
    );
    expect(trashWhere(item({}))).toBe('Harbour › Act 1 › Dawn');
    expect(formatSize(2048)).toBe('2.0 KB');
    expect(formatSize(512)).toBe('512 B');
    expect(formatExpiry(item({ expires: null }))).toMatch(/until the trash/);
    expect(formatExpiry(item({}))).toMatch(/in 30 days|in 29 days/);
  });
});

describe('Trash view', () => {
  it('shows each item with what it held, and restores with a click', async () => {
    const api = new FakeTrash();
    const trash = new TrashModel(api);
    const view = new TrashView(trash, () => 'harbour');
    Widget.attach(view, document.body);
    await trash.refresh();
    await new Promise(resolve => setTimeout(resolve, 50));
    const rows = [...view.node.querySelectorAll<HTMLElement>('.gms-TrashItem')];
    expect(rows.map(r => r.dataset.id)).toEqual(['tr_2', 'tr_1', 'tr_3']);
    expect(rows[1].textContent).toContain('Shot “Pier”');
    expect(rows[1].textContent).toContain('in Harbour › Act 1 › Dawn');
    expect(rows[1].textContent).toContain('2 takes');
    expect(view.itemAt(rows[1].querySelector('button'))?.id).toBe('tr_1');

    rows[1].querySelector<HTMLButtonElement>('button')!.click();
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(
      [...view.node.querySelectorAll<HTMLElement>('.gms-TrashItem')].map(
        r => r.dataset.id
      )
    ).toEqual(['tr_2', 'tr_3']);
    Widget.detach(view);
  });

  it('says so when the trash is empty', async () => {
    const api = new FakeTrash();
    api.items = [];
    const trash = new TrashModel(api);
    const view = new TrashView(trash, () => null);
    Widget.attach(view, document.body);
    await trash.refresh();
    await new Promise(resolve => setTimeout(resolve, 50));
    expect(view.node.textContent).toContain('The trash is empty');
    Widget.detach(view);
  });
});
