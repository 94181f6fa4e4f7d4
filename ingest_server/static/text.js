// Text measures that must agree with the server (Python) exactly.
//
// word_count    == len(text.split())   (whitespace: Python's str.isspace)
// character_count == len(text)         (code points, not UTF-16 units)

const PY_SPACE = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's str.isspace for one code point. */
export function isPySpace(codePoint) {
  return PY_SPACE.has(codePoint);
}

/** Python's len(text): the number of code points. */
export function pyLen(text) {
  let n = 0;
  for (const _ of String(text)) n += 1;
  return n;
}

/** Python's text.split() (no argument). */
export function pySplit(text) {
  const words = [];
  let current = '';
  for (const ch of String(text)) {
    if (PY_SPACE.has(ch.codePointAt(0))) {
      if (current) {
        words.push(current);
        current = '';
      }
    } else {
      current += ch;
    }
  }
  if (current) words.push(current);
  return words;
}

/** len(text.split()) without building the list. */
export function wordCount(text) {
  let n = 0;
  let inWord = false;
  for (const ch of String(text)) {
    if (PY_SPACE.has(ch.codePointAt(0))) {
      inWord = false;
    } else if (!inWord) {
      inWord = true;
      n += 1;
    }
  }
  return n;
}

/** Python's text.strip() (no argument). */
export function pyStrip(text) {
  const chars = Array.from(String(text));
  let start = 0;
  let end = chars.length;
  while (start < end && PY_SPACE.has(chars[start].codePointAt(0))) start += 1;
  while (end > start && PY_SPACE.has(chars[end - 1].codePointAt(0))) end -= 1;
  return chars.slice(start, end).join('');
}

const encoder = new TextEncoder();

/** Size in bytes of a string once UTF-8 encoded. */
export function utf8Bytes(text) {
  return encoder.encode(String(text)).length;
}
