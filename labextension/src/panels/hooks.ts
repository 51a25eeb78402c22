/**
 * React glue for the panels: re-render when model signals fire.
 */
import { ISignal } from '@lumino/signaling';
import { useEffect, useReducer } from 'react';

/**
 * Re-render the component whenever one of `signals` fires, and return `read()`.
 *
 * @param signals - the model signals the component depends on
 * @param read - reads the current value from the model
 */
export function useSignals<T>(
  signals: ISignal<unknown, unknown>[],
  read: () => T
): T {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  useEffect(() => {
    const slot = (): void => rerender();
    for (const signal of signals) {
      signal.connect(slot);
    }
    return () => {
      for (const signal of signals) {
        signal.disconnect(slot);
      }
    };
    // The signals of a panel are fixed for its life: subscribe once.
  }, []);
  return read();
}

/** Re-render every `ms` while `active` (for durations that tick). */
export function useTicker(active: boolean, ms = 1000): void {
  const [, rerender] = useReducer((count: number) => count + 1, 0);
  useEffect(() => {
    if (!active) {
      return;
    }
    const handle = setInterval(rerender, ms);
    return () => clearInterval(handle);
  }, [active, ms]);
}
