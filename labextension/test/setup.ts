/**
 * Browser APIs that jsdom lacks and the JupyterLab packages touch when they load.
 */
if (typeof globalThis.DragEvent === 'undefined') {
  class DragEventShim extends MouseEvent {
    readonly dataTransfer: DataTransfer | null = null;
  }
  globalThis.DragEvent = DragEventShim as unknown as typeof DragEvent;
}

if (typeof globalThis.CSS === 'undefined') {
  (globalThis as { CSS?: unknown }).CSS = {};
}
if (typeof CSS.escape !== 'function') {
  CSS.escape = (value: string) =>
    value.replace(/[^a-zA-Z0-9_-]/g, ch => `\\${ch}`);
}

if (typeof globalThis.ResizeObserver === 'undefined') {
  globalThis.ResizeObserver = class {
    observe(): void {}
    unobserve(): void {}
    disconnect(): void {}
  } as unknown as typeof ResizeObserver;
}

if (typeof window.matchMedia !== 'function') {
  window.matchMedia = (query: string) =>
    ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false
    }) as MediaQueryList;
}

if (typeof globalThis.requestIdleCallback !== 'function') {
  globalThis.requestIdleCallback = ((callback: IdleRequestCallback) =>
    setTimeout(
      () => callback({ didTimeout: false, timeRemaining: () => 50 }),
      0
    ) as unknown as number) as typeof requestIdleCallback;
  globalThis.cancelIdleCallback = (handle: number) => clearTimeout(handle);
}
