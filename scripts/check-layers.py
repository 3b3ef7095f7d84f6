#!/usr/bin/env python3
"""Checks the include rules of docs/architecture.md and CONTRIBUTING.md.

core/ is a stack of folders, lowest first (LAYERS). A file in core/ names
the folder of every core header it includes ("net/stream.h"), includes
only headers of its own folder or of a lower one, and no two modules (a
.c with its .h; x_internal.h belongs to x) include each other, directly
or round a longer circle. Plugins and the SDK examples include no core
header, and the SDK's headers include only <weft/...> and system ones.

Prints what breaks a rule and exits 1, or a one-line summary and 0."""
import os
import re
import sys

LAYERS = ['base', 'net', 'auth', 'http', 'plugin', 'config', 'telemetry',
          'tunnel', 'acme', 'ingress', 'server', 'agent', 'cli']
GENERATED = {'version.h'}  # made by core/meson.build in the build tree
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def sources(folder):
    for d, _, names in os.walk(os.path.join(top, folder)):
        for n in sorted(names):
            if n.endswith(('.c', '.h', '.cc', '.cpp')):
                yield os.path.relpath(os.path.join(d, n), top)


def includes(path):
    with open(os.path.join(top, path), encoding='utf-8') as f:
        text = f.read()
    for m in INCLUDE.finditer(text):
        line = text.count('\n', 0, m.start()) + 1
        yield line, m.group(1) == '"', m.group(2)


def module(path):
    """core/net/stream_internal.h -> net/stream"""
    name = os.path.splitext(os.path.relpath(path, 'core'))[0]
    return re.sub(r'_internal$', '', name)


# core: folders, layers, and the module graph
edges = {}
core_files = 0
core_includes = 0
for path in sources('core'):
    core_files += 1
    rel = os.path.relpath(path, 'core')
    folder = rel.split(os.sep)[0] if os.sep in rel else None
    if folder not in LAYERS:
        problems.append(f'{path}: core/{folder or ""} is not a layer; '
                        f'every core file lives in one of: {", ".join(LAYERS)}')
        continue
    mine = LAYERS.index(folder)
    for line, quoted, inc in includes(path):
        if not quoted or inc in GENERATED:
            continue
        core_includes += 1
        target = os.path.join('core', inc)
        head = inc.split('/')[0]
        if '/' not in inc or head not in LAYERS or \
                not os.path.exists(os.path.join(top, target)):
            problems.append(f'{path}:{line}: #include "{inc}" does not name '
                            f'a core header by its folder ("net/stream.h")')
            continue
        if LAYERS.index(head) > mine:
            problems.append(f'{path}:{line}: {folder}/ includes "{inc}", '
                            f'a header of the higher layer {head}/ '
                            f'(order: {" < ".join(LAYERS)})')
        if module(target) != module(path):
            edges.setdefault(module(path), set()).add(module(target))

# circles: strongly connected components of more than one module
index, low, stack, on_stack, circles = {}, {}, [], set(), []


def connect(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in sorted(edges.get(v, ())):
        if w not in index:
            connect(w)
            low[v] = min(low[v], low[w])
        elif w in on_stack:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        group = []
        while True:
            w = stack.pop()
            on_stack.discard(w)
            group.append(w)
            if w == v:
                break
        if len(group) > 1:
            circles.append(sorted(group))


sys.setrecursionlimit(10000)
for v in sorted(edges):
    if v not in index:
        connect(v)
for group in circles:
    problems.append('include circle between modules: ' + ' <-> '.join(group))

# plugins and examples: the SDK only
for folder in ('plugins', 'sdk/examples', 'tests/plugins', 'tests/transport'):
    for path in sources(folder):
        for line, quoted, inc in includes(path):
            if not quoted:
                continue
            here = os.path.normpath(os.path.join(os.path.dirname(path), inc))
            if here.startswith('core' + os.sep) or \
                    (not os.path.exists(os.path.join(top, here)) and
                     os.path.exists(os.path.join(top, 'core', inc))):
                problems.append(f'{path}:{line}: a plugin includes the core '
                                f'header "{inc}"; plugins see only sdk/weft/')
for path in sources('sdk/weft'):
    for line, quoted, inc in includes(path):
        if quoted or (inc.startswith('weft/') is False and '/' in inc and
                      not inc.startswith(('sys/', 'netinet/', 'arpa/'))):
            problems.append(f'{path}:{line}: an SDK header includes "{inc}"; '
                            f'only <weft/...> and system headers')

if problems:
    print('\n'.join(problems))
    print(f'{len(problems)} problem(s) with the include rules')
    sys.exit(1)
print(f'core: {core_files} files in {len(LAYERS)} layers, {core_includes} '
      f'includes, none upward, no circle; plugins include only the SDK')
