/**
 * A side bar of the studio: one panel whose sections are stacked, resizable and collapsible
 * (the way JupyterLab's Debugger stacks its sections), keeping their sizes and which are
 * collapsed between page loads.
 */
import { LabIcon, SidePanel, Toolbar } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import type { Message } from '@lumino/messaging';
import { AccordionPanel } from '@lumino/widgets';

/** Where a side bar keeps its layout; JupyterLab's `IStateDB` in the lab. */
export interface ILayoutStore {
  fetch(key: string): Promise<unknown>;
  save(key: string, value: ReadonlyPartialJSONObject): Promise<unknown>;
}

/** How a side bar's sections were laid out. */
export interface ISectionLayout {
  /** Relative sizes of the sections, top to bottom. */
  sizes: number[];
  /** Whether each section is collapsed. */
  collapsed: boolean[];
}

/** Options of a `StudioSidebar`. */
export interface IStudioSidebarOptions {
  /** The widget id (and DOM id). */
  id: string;
  /** The side bar tab's caption. */
  caption: string;
  /** The side bar tab's icon. */
  icon: LabIcon;
  /** The sections, top to bottom; each shows its `title.label` and its `toolbar`. */
  sections: Toolbar.IWidgetToolbar[];
  /** Relative sizes to start from when nothing was kept. */
  sizes?: number[];
  /** Where to keep the layout (none: it lasts as long as the page). */
  store?: ILayoutStore | null;
}

/** The key under which a side bar keeps its layout. */
export function layoutKey(id: string): string {
  return `gms-lab:layout:${id}`;
}

/**
 * A side bar with stacked sections.
 */
export class StudioSidebar extends SidePanel {
  /**
   * @param options - its id, tab, sections and where it keeps their layout
   */
  constructor(options: IStudioSidebarOptions) {
    super();
    this.id = options.id;
    this.addClass('gms-Sidebar');
    this.node.dataset.testid = options.id;
    this.title.icon = options.icon;
    this.title.caption = options.caption;
    this._store = options.store ?? null;
    for (const section of options.sections) {
      section.addClass('gms-Sidebar-section');
      this.addWidget(section);
    }
    const sizes = options.sizes ?? options.sections.map(() => 1);
    this.accordion.setRelativeSizes(sizes);
    // the sizes only hold once the side bar is laid out: applied when it is first shown
    // (unless a kept layout replaces them meanwhile)
    this._kept = { sizes, collapsed: options.sections.map(() => false) };
    this._ready = this._restore();
    this.accordion.expansionToggled.connect(this._opened, this);
    this.accordion.expansionToggled.connect(this._keep, this);
    this.accordion.handleMoved.connect(this._keep, this);
  }

  /** The stacked sections. */
  get accordion(): AccordionPanel {
    return this.content as AccordionPanel;
  }

  /** Resolves once the kept layout is applied. */
  get ready(): Promise<void> {
    return this._ready;
  }

  /** The layout now: relative sizes and collapsed sections. */
  sectionLayout(): ISectionLayout {
    const collapsed = this.accordion.widgets.map(widget => widget.isHidden);
    return { sizes: this.accordion.relativeSizes(), collapsed };
  }

  /** Apply a layout (sizes first, then which sections are collapsed). */
  applyLayout(layout: ISectionLayout): void {
    const count = this.accordion.widgets.length;
    if (layout.sizes.length === count && layout.sizes.some(size => size > 0)) {
      // a collapsed section was kept at size 0: give it a share to open to again
      const sizes = layout.sizes.map((size, index) =>
        layout.collapsed[index] && size < 0.05 ? 1 / count : size
      );
      this.accordion.setRelativeSizes(sizes);
    }
    layout.collapsed.slice(0, count).forEach((collapsed, index) => {
      const shown = !this.accordion.widgets[index].isHidden;
      if (collapsed && shown) {
        this.accordion.collapse(index);
      } else if (!collapsed && !shown) {
        this.accordion.expand(index);
      }
    });
  }

  private async _restore(): Promise<void> {
    const kept = (await this._store
      ?.fetch(layoutKey(this.id))
      .catch(() => null)) as ISectionLayout | null | undefined;
    if (kept && Array.isArray(kept.sizes) && Array.isArray(kept.collapsed)) {
      this._kept = kept;
      this._applyKept();
    }
  }

  /** The sizes only hold once the side bar has a size: apply them when it is shown. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._applyKept();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._applyKept();
  }

  private _applyKept(): void {
    const kept = this._kept;
    if (!kept || !this.isVisible) {
      return;
    }
    this._kept = null;
    this._restoring = true;
    this.applyLayout(kept);
    // once laid out (the next frame), the sizes again: expanding a section re-divides them
    requestAnimationFrame(() => {
      this.applyLayout(kept);
      this._restoring = false;
    });
  }

  /** A section opened to (almost) nothing gets a fair share of the height. */
  private _opened(_: AccordionPanel, index: number): void {
    const widget = this.accordion.widgets[index];
    if (!widget || widget.isHidden) {
      return;
    }
    requestAnimationFrame(() => {
      const sizes = this.accordion.relativeSizes();
      if (sizes[index] !== undefined && sizes[index] < 0.05) {
        const share = 1 / sizes.length;
        const rest = sizes.reduce(
          (sum, size, i) => sum + (i === index ? 0 : size),
          0
        );
        this.accordion.setRelativeSizes(
          sizes.map((size, i) =>
            i === index ? share : rest > 0 ? (size / rest) * (1 - share) : share
          )
        );
        this._keep();
      }
    });
  }

  private _keep(): void {
    if (this._restoring || !this._store) {
      return;
    }
    // a drag moves the handle many times a second: keep the layout once it rests
    clearTimeout(this._saveTimer);
    this._saveTimer = setTimeout(() => {
      const layout = this.sectionLayout();
      void this._store
        ?.save(layoutKey(this.id), {
          sizes: layout.sizes,
          collapsed: layout.collapsed
        })
        .catch(() => undefined);
    }, 300);
  }

  private _store: ILayoutStore | null;
  private _ready: Promise<void>;
  private _restoring = false;
  private _kept: ISectionLayout | null = null;
  private _saveTimer: ReturnType<typeof setTimeout> | undefined = undefined;
}
