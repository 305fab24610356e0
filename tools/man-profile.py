#!/usr/bin/env python3
"""Writes mlrig-profile(5) from docs/profile.md, so the manual page and the
Markdown the repository shows are one text. Handles what that file uses:
paragraphs, indented code blocks, "## [Section]" headings, key|value|default
tables and `code`.
    python3 tools/man-profile.py docs/profile.md >docs/man/mlrig-profile.5
tests/integration/test-manpages.sh checks that the committed page is current."""
import re
import sys


def roff_text(s):
    """Markdown inline text as roff: escapes, `code` in bold, literal minus in code."""
    s = s.replace("\\", "\\e")
    parts = re.split(r"(`[^`]*`)", s)
    out = []
    for p in parts:
        if p.startswith("`") and p.endswith("`") and len(p) >= 2:
            out.append("\\fB" + p[1:-1].replace("-", "\\-") + "\\fR")
        else:
            out.append(p)
    return "".join(out)


def roff_line(s):
    """A line roff must not take for a request: one starting with . or '."""
    s = roff_text(s)
    return "\\&" + s if s[:1] in (".", "'") else s


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


def convert(lines):
    out = []
    title = None
    i = 0
    para = []
    in_keys = False

    def flush():
        if para:
            out.append(".PP")
            out.extend(roff_line(p) for p in para)
            para.clear()

    while i < len(lines):
        line = lines[i].rstrip("\n")
        if line.startswith("# "):
            title = line[2:].strip()
        elif line.startswith("## "):
            flush()
            if not in_keys:
                out.append(".SH SECTIONS AND KEYS")
                in_keys = True
            out.append('.SS "%s"' % line[3:].strip().replace('"', ""))
        elif line.startswith("|"):
            flush()
            header = cells(line)
            i += 2  # the |---| line
            while i < len(lines) and lines[i].startswith("|"):
                row = cells(lines[i])
                out.append(".TP")
                out.append(roff_line(row[0]))
                out.append(roff_line(row[1]))
                for name, value in zip(header[2:], row[2:]):
                    out.append(".br")
                    out.append(roff_line("%s%s: %s" % (name[:1].upper(), name[1:], value)))
                i += 1
            continue
        elif line.startswith("    ") and not para:
            out.append(".PP")
            out.append(".RS 4")
            out.append(".nf")
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                if lines[i].strip():
                    out.append(roff_line(lines[i].rstrip("\n")[4:]))
                i += 1
            while out[-1] == "":
                out.pop()
            out.append(".fi")
            out.append(".RE")
            continue
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
        i += 1
    flush()
    return title, out


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "docs/profile.md"
    with open(src, encoding="utf-8") as f:
        title, body = convert(f.readlines())
    # the intro, up to the first section heading, is the description
    first = body.index(".SH SECTIONS AND KEYS") if ".SH SECTIONS AND KEYS" in body else len(body)
    page = [
        '.\\" Generated from %s by tools/man-profile.py; edit that file, not this one.' % src,
        '.TH MLRIG-PROFILE 5 "2026" "mlrig" "File Formats"',
        ".SH NAME",
        "mlrig-profile \\- %s, the INI file that describes one rig" % roff_text(title.lower()),
        ".SH SYNOPSIS",
        ".I images/NAME.conf",
        ".SH DESCRIPTION",
    ]
    page += body[:first]
    page += body[first:]
    page += [
        ".SH SEE ALSO",
        ".BR mlrig (1),",
        ".BR mlrig\\-check (1),",
        ".BR mlrig\\-image (1),",
        ".BR mlrig\\-iso (1),",
        ".BR mlrig\\-firstboot (8)",
    ]
    sys.stdout.write("\n".join(page) + "\n")


main()
