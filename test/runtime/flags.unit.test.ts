import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags, toBool, toList, toNumber, UsageError } from '../../src/lib/runtime/flags.js';

class OtherError extends Error {}

test('parseFlags: strict, positionals only when allowed; errors are UsageError (or the class given)', () => {
  const opts = { rate: { type: 'string' }, quiet: { type: 'boolean' } } as const;
  assert.deepEqual({ ...parseFlags(['--rate', '5', '--quiet'], opts).values }, { rate: '5', quiet: true });
  assert.throws(() => parseFlags(['--nope'], opts), UsageError);
  assert.throws(() => parseFlags(['light'], opts), UsageError);
  assert.deepEqual(parseFlags(['light'], opts, { positionals: true }).positionals, ['light']);
  assert.throws(() => parseFlags(['--nope'], opts, { error: OtherError }), OtherError);
});

test('toNumber: default when absent, names the flag and the value when bad', () => {
  assert.equal(toNumber('--rate', undefined), undefined);
  assert.equal(toNumber('--rate', '', {}, 7), 7);
  assert.equal(toNumber('--rate', '2.5'), 2.5);
  assert.throws(() => toNumber('--rate', 'fast'), /--rate: expected a number \(got "fast"\)/);
  assert.throws(() => toNumber('--port', '1.5', { integer: true }), /--port: expected an integer/);
  assert.throws(() => toNumber('--workers', '0', { min: 1 }), /--workers: expected a number ≥ 1/);
  assert.throws(() => toNumber('x', 'y', { error: OtherError }), OtherError);
});

test('toBool and toList', () => {
  assert.equal(toBool('X', 'yes'), true);
  assert.equal(toBool('X', 'OFF'), false);
  assert.throws(() => toBool('X', 'maybe'), /X: expected true or false/);
  assert.deepEqual(toList(' a, b,,c '), ['a', 'b', 'c']);
});
