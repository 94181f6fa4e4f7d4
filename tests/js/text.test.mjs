import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isPySpace, pyLen, pySplit, pyStrip, utf8Bytes, wordCount } from '../../ingest_server/static/text.js';
import { refWordCount, rng } from './helpers.mjs';

// Python: [hex(c) for c in range(0x110000) if chr(c).isspace()]
const PY_SPACES = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000];

test('isPySpace is exactly Python str.isspace over all of Unicode', () => {
  const found = [];
  for (let c = 0; c <= 0x10ffff; c += 1) if (isPySpace(c)) found.push(c);
  assert.deepEqual(found, PY_SPACES);
});

test('word count follows len(text.split())', () => {
  const cases = [
    ['', 0], ['   ', 0], ['one', 1], ['  one  two ', 2], ['a\tb\nc\vd\fe\rf', 6],
    ['a\u001cb\u001dc\u001ed\u001ff', 5], ['a\u0085b\u00a0c', 3], ['a\u1680b\u2000c\u200ad', 4],
    ['a\u2028b\u2029c\u202fd\u205fe\u3000f', 6],
    ['a\u200bb', 1], ['a\ufeffb', 1], ['zero\u200bwidth joiner', 2], ['👍🏽 ok', 2],
    ['Because the risk is low,\nand the team agrees.', 9],
  ];
  for (const [text, n] of cases) {
    assert.equal(wordCount(text), n, JSON.stringify(text));
    assert.equal(pySplit(text).length, n, JSON.stringify(text));
  }
  assert.deepEqual(pySplit(' a\u00a0b\u200bc '), ['a', 'b\u200bc']);
});

test('word count agrees with an independent implementation on random text', () => {
  const rand = rng(7);
  const alphabet = ['a', 'é', '中', '👍', '\u200b', '\ufeff', ' ', '\n', '\t', '\u00a0', '\u3000', '\u001f', '\u0085', '\u2028', '-', '.'];
  for (let i = 0; i < 2000; i += 1) {
    let s = '';
    const len = Math.floor(rand() * 30);
    for (let j = 0; j < len; j += 1) s += alphabet[Math.floor(rand() * alphabet.length)];
    assert.equal(wordCount(s), refWordCount(s), JSON.stringify(s));
  }
});

test('character count is code points, like Python len', () => {
  assert.equal(pyLen(''), 0);
  assert.equal(pyLen('abc'), 3);
  assert.equal(pyLen('👍'), 1);
  assert.equal('👍'.length, 2);
  assert.equal(pyLen('e\u0301'), 2); // combining accent: two code points, as in Python
  assert.equal(pyLen('中文'), 2);
  assert.equal(pyLen('\ud800x'), 2); // a lone surrogate counts once
});

test('strip and byte size', () => {
  assert.equal(pyStrip('\u3000 hi there\u00a0\n'), 'hi there');
  assert.equal(pyStrip('\u200bhi\u200b'), '\u200bhi\u200b');
  assert.equal(utf8Bytes('aé中👍'), 1 + 2 + 3 + 4);
});
