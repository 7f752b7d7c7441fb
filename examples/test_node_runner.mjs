#!/usr/bin/env -S node --test --test-reporter=tap
// Marionette-style JavaScript unit tests: node's built-in test runner, TAP
// with nested subtests and YAML diagnostics.
// MOZPARALLEL_EXAMPLE_FAIL=1 makes one nested test fail (the tests use it).
import test from 'node:test';
import assert from 'node:assert';

const failing = process.env.MOZPARALLEL_EXAMPLE_FAIL === '1';

test('parses a session id', () => {
  assert.strictEqual('abc-123'.split('-').length, 2);
});

test('capabilities', async (t) => {
  await t.test('accepts a browser name', () => {
    assert.deepStrictEqual({ browserName: 'firefox' }, { browserName: 'firefox' });
  });
  await t.test('rejects an unknown key', () => {
    assert.strictEqual(failing ? 'accepted' : 'rejected', 'rejected');
  });
});

test('screenshots on Wayland', { skip: 'no display here' }, () => {});

test('window rects in headless mode', { todo: 'bug 1234567' }, () => {
  throw new Error('not implemented');
});
