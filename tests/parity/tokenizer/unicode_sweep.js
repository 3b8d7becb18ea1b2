#!/usr/bin/env node
// Compares, for every Unicode code point, how Hugging Face tokenizers (the Rust library through
// @anush008/tokenizers) and salvo's src/text/unicode.cc treat it in each BertNormalizer step and
// in BertPreTokenizer. Fails on any difference.
//
//   node unicode_sweep.js <salvo_unicode_props binary>
//   node unicode_sweep.js <salvo_unicode_props binary> --generate <src/text/unicode_overrides.cc>
//
// --generate compares the library with utf8proc alone (salvo_unicode_props --utf8proc) and writes
// the corrections salvo applies on top of utf8proc.
'use strict';

const path = require('path');
const fs = require('fs');
const { execFileSync } = require('child_process');

const repo = path.resolve(__dirname, '..', '..', '..');
const tk = require(path.join(repo, 'tools', 'node', 'node_modules', '@anush008', 'tokenizers'));

function oracleLines() {
  const opts = (o) => Object.assign(
      { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false }, o);
  const clean = tk.bertNormalizer(opts({ cleanText: true }));
  const chinese = tk.bertNormalizer(opts({ handleChineseChars: true }));
  const strip = tk.bertNormalizer(opts({ stripAccents: true }));
  const lower = tk.bertNormalizer(opts({ lowercase: true }));
  const pre = tk.bertPreTokenizer();
  const hex = (s) => [...s].map((c) => c.codePointAt(0).toString(16)).join('.') || 'E';
  const lines = new Map();
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const s = String.fromCodePoint(cp);
    const c = clean.normalizeString(s);
    const cc = c === '' ? 'D' : c === ' ' && s !== ' ' ? 'S' : c === s ? '-' : 'X' + hex(c);
    const h = chinese.normalizeString(s) !== s ? 'H' : '-';
    const a = strip.normalizeString(s);
    const l = lower.normalizeString(s);
    const n = pre.preTokenizeString('a' + s + 'a').length;
    const p = n === 2 ? 'W' : n === 3 ? 'P' : n === 1 ? '-' : '?';
    const fields = [cc, h, a === s ? '-' : hex(a), l === s ? '-' : hex(l), p];
    if (fields.every((f) => f === '-')) continue;
    lines.set(cp, fields);
  }
  return lines;
}

function salvoLines(binary, args) {
  const out = execFileSync(binary, args, { maxBuffer: 1 << 28 }).toString();
  const lines = new Map();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const parts = line.split(' ');
    lines.set(parseInt(parts[0], 16), parts.slice(1));
  }
  return lines;
}

const STEPS = ['clean', 'chinese', 'strip_accents', 'lowercase', 'pre_tokenizer'];
const NONE = ['-', '-', '-', '-', '-'];

function differences(oracle, salvo) {
  const cps = [...new Set([...oracle.keys(), ...salvo.keys()])].sort((a, b) => a - b);
  const diffs = [];
  for (const cp of cps) {
    const a = oracle.get(cp) || NONE;
    const b = salvo.get(cp) || NONE;
    for (let i = 0; i < STEPS.length; i++) {
      if (a[i] !== b[i]) diffs.push({ cp, step: STEPS[i], hf: a[i], salvo: b[i] });
    }
  }
  return diffs;
}

// CharFlag bits of src/text/unicode.h.
const FLAG = {
  kCharDrop: 1 << 0, kCharCleanSpace: 1 << 1, kCharWhitespace: 1 << 2, kCharPunct: 1 << 3,
  kCharChinese: 1 << 4, kCharNonspacingMark: 1 << 5, kCharDecomposes: 1 << 6,
  kCharLowercaseChanges: 1 << 7,
};

function generate(diffs, outFile) {
  const flagEdits = new Map();  // cp -> {set, clear}
  const lowers = [];
  const edit = (cp, set, clear) => {
    const e = flagEdits.get(cp) || { set: [], clear: [] };
    if (set) e.set.push(set);
    if (clear) e.clear.push(clear);
    flagEdits.set(cp, e);
  };
  const unsupported = [];
  for (const d of diffs) {
    const { cp, step, hf, salvo } = d;
    if (step === 'clean' && hf === 'D' && salvo === '-') edit(cp, 'kCharDrop', null);
    else if (step === 'clean' && hf === '-' && salvo === 'D') edit(cp, null, 'kCharDrop');
    else if (step === 'pre_tokenizer' && hf === 'P' && salvo === '-') edit(cp, 'kCharPunct', null);
    else if (step === 'pre_tokenizer' && hf === '-' && salvo === 'P') edit(cp, null, 'kCharPunct');
    else if (step === 'strip_accents' && hf === 'E' && salvo === '-') {
      edit(cp, 'kCharNonspacingMark', null);
    } else if (step === 'strip_accents' && hf === '-' && salvo === 'E') {
      edit(cp, null, 'kCharNonspacingMark');
    } else if (step === 'strip_accents' && hf === '-') {
      edit(cp, null, 'kCharDecomposes');
    } else if (step === 'lowercase' && hf === '-') {
      edit(cp, null, 'kCharLowercaseChanges');
    } else if (step === 'lowercase' && !hf.includes('.')) {
      edit(cp, 'kCharLowercaseChanges', null);
      lowers.push([cp, parseInt(hf, 16)]);
    } else {
      unsupported.push(d);
    }
  }
  if (unsupported.length) {
    console.error('differences the override table cannot express:', unsupported.slice(0, 20));
    process.exit(1);
  }
  // Merge runs of consecutive code points with identical edits into ranges.
  const key = (e) => e.set.join('|') + '/' + e.clear.join('|');
  const ranges = [];
  for (const cp of [...flagEdits.keys()].sort((a, b) => a - b)) {
    const e = flagEdits.get(cp);
    const last = ranges[ranges.length - 1];
    if (last && last.last === cp - 1 && key(last.edit) === key(e)) {
      last.last = cp;
    } else {
      ranges.push({ first: cp, last: cp, edit: e });
    }
  }
  const hex = (n) => '0x' + n.toString(16).toUpperCase();
  const mask = (names) => (names.length ? names.join(' | ') : '0');
  const lines = [];
  lines.push('// Generated by tests/parity/tokenizer/unicode_sweep.js --generate; do not edit.');
  lines.push('//');
  lines.push('// Where Hugging Face tokenizers disagrees with utf8proc ' +
             `(${diffs.length} differences in ${flagEdits.size} code points):`);
  lines.push('// its unicode_categories and unicode-normalization tables predate the Unicode version');
  lines.push("// of utf8proc, while Rust's char::to_lowercase follows a newer one.");
  lines.push('#include "text/unicode_overrides.h"');
  lines.push('');
  lines.push('#include "text/unicode.h"');
  lines.push('');
  lines.push('namespace salvo {');
  lines.push('');
  lines.push('namespace {');
  lines.push('');
  lines.push('// clang-format off');
  lines.push('constexpr CharFlagOverride kCharFlagOverrides[] = {');
  for (const r of ranges) {
    lines.push(`    {${hex(r.first)}, ${hex(r.last)}, ${mask(r.edit.set)}, ${mask(r.edit.clear)}},`);
  }
  lines.push('};');
  lines.push('');
  lines.push('constexpr LowercaseOverride kLowercaseOverrides[] = {');
  for (const [cp, lower] of lowers) lines.push(`    {${hex(cp)}, ${hex(lower)}},`);
  lines.push('};');
  lines.push('// clang-format on');
  lines.push('');
  lines.push('}  // namespace');
  lines.push('');
  lines.push('std::span<const CharFlagOverride> char_flag_overrides() { return kCharFlagOverrides; }');
  lines.push('');
  lines.push('std::span<const LowercaseOverride> lowercase_overrides() { ' +
             'return kLowercaseOverrides; }');
  lines.push('');
  lines.push('}  // namespace salvo');
  fs.writeFileSync(outFile, lines.join('\n') + '\n');
  console.log(`wrote ${outFile}: ${ranges.length} flag ranges, ${lowers.length} lowercase mappings`);
}

function main() {
  const [binary, mode, outFile] = process.argv.slice(2);
  if (!binary) {
    console.error('usage: unicode_sweep.js <salvo_unicode_props> [--generate <out.cc>]');
    process.exit(2);
  }
  const oracle = oracleLines();
  if (mode === '--generate') {
    generate(differences(oracle, salvoLines(binary, ['--utf8proc'])), outFile);
    return;
  }
  const raw = differences(oracle, salvoLines(binary, ['--utf8proc']));
  const diffs = differences(oracle, salvoLines(binary, []));
  console.log(`unicode sweep: ${oracle.size} code points changed by some step in HF tokenizers; ` +
              `utf8proc alone differs on ${raw.length} (step, code point) pairs, ` +
              `salvo with its corrections on ${diffs.length}`);
  if (diffs.length) {
    for (const d of diffs.slice(0, 20)) {
      console.log(`  U+${d.cp.toString(16).toUpperCase()} ${d.step}: hf=${d.hf} salvo=${d.salvo}`);
    }
    process.exit(1);
  }
}

main();
