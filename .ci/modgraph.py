#!/usr/bin/env python3
"""Usage: modgraph.py <crate>/src

File-level import graph of one crate's src/: which module files each file uses
(through `crate::`, `super::`, `self::` or a bare child/top-level module path), and
whether the graph has a cycle. `mod x;` declarations are not uses; a `super::` inside an
inline module (`mod tests { … }`) refers to the file itself."""
import os, re, sys

src = sys.argv[1]
files = {}
for root, _, names in os.walk(src):
    for n in names:
        if n.endswith('.rs'):
            p = os.path.join(root, n)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel == ['main'] and os.path.exists(os.path.join(src, 'lib.rs')):
                continue  # the binary is its own crate and imports the library by name
            if rel == ['lib'] or rel == ['main']:
                mod = ()
            elif rel[-1] == 'mod':
                mod = tuple(rel[:-1])
            else:
                mod = tuple(rel)
            files[mod] = p
mods = set(files)

def resolve(path):
    """Longest prefix of `path` that is a module file."""
    for i in range(len(path), -1, -1):
        if tuple(path[:i]) in mods:
            return tuple(path[:i])
    return ()

def strip(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return line.split('//')[0]

edges = {m: set() for m in mods}
for mod, p in files.items():
    children = {c[-1] for c in mods if len(c) == len(mod) + 1 and c[:len(mod)] == mod}
    text = open(p).read().split('\n')
    depth, inline = 0, []  # brace depth; depths at which inline `mod x {` blocks opened
    for raw in text:
        line = strip(raw)
        if re.match(r'\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*;', line):
            continue
        opens_inline = re.match(r'\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{', line)
        # inside an inline module, `super` is this file's own module
        indented = bool(inline)
        # `crate::{a, b::c}` on one line: each item is its own path.
        line = re.sub(r'\b(crate|super)((?:::\w+)*)::\{([^{}]*)\}',
                      lambda m: ' '.join(f"{m.group(1)}{m.group(2)}::{i.strip()}"
                                         for i in m.group(3).split(',') if i.strip()), line)
        for m in re.finditer(r'\bcrate((?:::\w+)*)(?=::|\W|$)', line):
            if not m.group(1) and not line[m.end():].startswith('::'):
                continue
            edges[mod].add(resolve(m.group(1).split('::')[1:]))
        for m in re.finditer(r'\bsuper((?:::\w+)*)', line):
            if not m.group(1) and not line[m.end():].startswith('::'):
                continue
            base = mod if indented else mod[:-1]
            edges[mod].add(resolve(list(base) + m.group(1).split('::')[1:]))
        for m in re.finditer(r'\bself((?:::\w+)+)', line):
            edges[mod].add(resolve(list(mod) + m.group(1).split('::')[1:]))
        for m in re.finditer(r'(?<![:\w])(\w+)((?:::\w+)*)', line):
            head = m.group(1)
            if not m.group(2) and not line[m.end():].startswith('::'):
                continue
            if head in children:
                edges[mod].add(resolve(list(mod) + [head] + m.group(2).split('::')[1:]))
        if opens_inline:
            inline.append(depth)
        depth += line.count('{') - line.count('}')
        while inline and depth <= inline[-1]:
            inline.pop()
    edges[mod].discard(mod)

name = lambda m: '::'.join(m) or 'lib'
for m in sorted(mods):
    print(f"{name(m):22} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")

# cycle search
color, stack, cycles = {}, [], []
def dfs(u):
    color[u] = 1; stack.append(u)
    for v in sorted(edges[u]):
        if color.get(v) == 1:
            cycles.append(stack[stack.index(v):] + [v])
        elif v not in color:
            dfs(v)
    stack.pop(); color[u] = 2
for m in sorted(mods):
    if m not in color:
        dfs(m)
if cycles:
    for c in cycles:
        print('CYCLE:', ' -> '.join(name(x) for x in c))
    sys.exit(1)
print(f'no cycles among {len(mods)} files')
