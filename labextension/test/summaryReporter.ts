/**
 * Prints one plain closing line, `vitest: N passed, N failed[, N skipped]`, that CI logs and
 * scripts can read without parsing vitest's coloured summary.
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') {
          passed += 1;
        } else if (state === 'failed') {
          failed += 1;
        } else {
          skipped += 1;
        }
      }
      // A file that fails to load has no tests but is a failure all the same.
      if (
        module.state() === 'failed' &&
        [...module.children.allTests()].length === 0
      ) {
        failed += 1;
      }
    }
    const tail = skipped ? `, ${skipped} skipped` : '';
    process.stdout.write(
      `\nvitest: ${passed} passed, ${failed} failed${tail}\n`
    );
  }
}
