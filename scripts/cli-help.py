#!/usr/bin/env python3
"""Reads what `weft help` prints, the one list of weft's commands and
options (core/cli/usage.c), and writes from it what must not drift:

  cli-help.py WEFT bash TEMPLATE OUT   bash completion: TEMPLATE with its
                                       @TABLES@ line replaced by the tables
  cli-help.py WEFT markdown OUT        every command's usage and options, as
                                       Markdown for weft(1) (docs/man/)

A command's options are the --long ones its "Options:" list and its usage
lines name, with their value (FILE, DIR, ROLE, a|b|c); its subcommands are
the lower-case words its usage lines start with after "weft COMMAND", or
the first words of its "Commands:" list. "weft help 'COMMAND SUB'" that
answers gives SUB options of its own (weft tunnel status). A line of an
Options: list this cannot read stops the build, rather than a completion
or a page that quietly lacks the option.
"""
import re
import subprocess
import sys

OPTION_LINE = re.compile(
    r"^  (?:(-[a-zA-Z]), )?\s*(--[a-z0-9][a-z0-9-]*)(?: ([^ ]+))?(?:\s{2,}(.*))?$")
USAGE_OPTION = re.compile(r"(--[a-z0-9][a-z0-9-]*)(?: ([^\s\[\]()-][^\s\[\]()]*))?")
WORD = re.compile(r"^[a-z][a-z-]*$")


def help_text(weft, command=None):
    args = [weft, "help"] + ([command] if command else [])
    r = subprocess.run(args, capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def blocks(text):
    out, cur = [], []
    for line in text.rstrip("\n").split("\n"):
        if line.strip():
            cur.append(line)
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def usage_lines(text):
    """The usage block: "Usage: weft ..." and the lines under it."""
    first = blocks(text)[0]
    assert first[0].startswith("Usage: "), first[0]
    return [first[0][len("Usage: "):]] + [l.strip() for l in first[1:]]


def parse_command(name, text):
    cmd = {"options": [], "values": {}, "subcommands": [], "text": text,
           "conn_first": f"weft {name} [weft://" in text}

    def add(short, long, value):
        if long not in cmd["options"]:
            cmd["options"].append(long)
        if short and short not in cmd["options"]:
            cmd["options"].append(short)
        if value and value[0] != "-":
            cmd["values"][long] = value
            if short:
                cmd["values"][short] = value

    section = None
    for block in blocks(text):
        head = block[0]
        if head.endswith(":") and not head.startswith(" "):
            section, rest = head[:-1], block[1:]
        else:
            section, rest = None, block
        if section == "Options":
            for line in rest:
                m = OPTION_LINE.match(line)
                if m:
                    add(m.group(1), m.group(2), m.group(3))
                elif not line.startswith(" " * 6):
                    sys.exit(f"cli-help.py: weft help {name}: cannot read the "
                             f"option line {line!r}")
        elif section == "Commands":
            for line in rest:
                word = line.split()[0] if line.startswith("  ") and not line.startswith("   ") else ""
                if WORD.match(word) and word not in cmd["subcommands"]:
                    cmd["subcommands"].append(word)
    # The usage lines name options the Options list may not (weft device
    # add ID [--class NAME]), and choices it names only as ROLE.
    listed = list(cmd["options"])
    prefix = "weft " + name + " "
    for line in usage_lines(text):
        for m in USAGE_OPTION.finditer(line):
            if m.group(1) not in listed:
                add(None, m.group(1), m.group(2))
            elif m.group(1) in cmd["values"] and "|" in (m.group(2) or ""):
                cmd["values"][m.group(1)] = m.group(2)
        if not line.startswith(prefix):
            continue
        for alt in USAGE_OPTION.sub("", line[len(prefix):]).split("|"):
            words = alt.split()
            if words and WORD.match(words[0]) and words[0] not in cmd["subcommands"]:
                cmd["subcommands"].append(words[0])
    return cmd


def parse(weft):
    top = help_text(weft)
    names = []
    for block in blocks(top):
        if block[0] == "Commands:":
            names = [l.split()[0] for l in block[1:]]
    assert names, "weft help lists no commands"
    commands = {}
    for name in names:
        text = help_text(weft, name)
        assert text, f"weft help {name} failed"
        commands[name] = parse_command(name, text)
        for sub in commands[name]["subcommands"]:
            sub_text = help_text(weft, f"{name} {sub}")
            if sub_text:
                commands[f"{name} {sub}"] = parse_command(f"{name} {sub}", sub_text)
    return {"names": names, "commands": commands}


def bash_word(s):
    assert re.match(r"^[A-Za-z0-9 ._:,|@/-]*$", s), s
    return "'" + s + "'"


def bash_tables(cli):
    out = ["_weft_commands=" + bash_word(" ".join(cli["names"]))]
    out.append("# a connection string may come before their subcommand")
    out.append("_weft_conn_first=" + bash_word(" ".join(
        name for name, cmd in cli["commands"].items() if cmd["conn_first"])))
    for table, key in (("_weft_options", "options"), ("_weft_subcommands", "subcommands")):
        out.append(f"declare -gA {table}=(")
        for name, cmd in cli["commands"].items():
            if cmd[key]:
                out.append(f"  [{bash_word(name)}]={bash_word(' '.join(cmd[key]))}")
        out.append(")")
    out.append("# COMMAND OPTION -> what its value is: FILE, DIR, a|b, ...")
    out.append("declare -gA _weft_values=(")
    for name, cmd in cli["commands"].items():
        for opt, value in cmd["values"].items():
            out.append(f"  [{bash_word(name + ' ' + opt)}]={bash_word(value)}")
    out.append(")")
    return "\n".join(out) + "\n"


MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~^$@\"'-])")


def md(s):
    return MD_SPECIAL.sub(r"\\\1", s)


def markdown(cli):
    """Each command's usage lines, its Commands: and its Options:, the
    reference part of its help; docs/cli.md around it says the rest."""
    out = []
    for name, cmd in cli["commands"].items():
        out.append(f"## weft {md(name)}\n")
        for i, block in enumerate(blocks(cmd["text"])):
            head = block[0]
            if i == 0 or head == "Commands:":
                out += ["```", *block, "```", ""]
            elif head == "Options:":
                entries = []
                for line in block[1:]:
                    m = OPTION_LINE.match(line)
                    if m:
                        short, long, value, what = m.groups()
                        term = (f"**{md(short)}**, " if short else "") + f"**{md(long)}**"
                        if value:
                            term += f" *{md(value)}*"
                        entries.append((term, [what or ""]))
                    else:
                        entries[-1][1].append(line.strip())
                out += [f"{term}\n:   {md(' '.join(what))}\n" for term, what in entries]
    return "\n".join(out) + "\n"


def main():
    weft, mode = sys.argv[1], sys.argv[2]
    cli = parse(weft)
    if mode == "bash":
        template, out = sys.argv[3], sys.argv[4]
        lines = open(template).read().split("\n")
        text = "\n".join(bash_tables(cli).rstrip("\n") if l == "@TABLES@" else l
                         for l in lines)
        assert text != "\n".join(lines), "the template has no @TABLES@ line"
        open(out, "w").write(text)
    elif mode == "markdown":
        open(sys.argv[3], "w").write(markdown(cli))
    else:
        sys.exit(f"cli-help.py: unknown mode {mode}")


if __name__ == "__main__":
    main()
