#!/usr/bin/env bash
# Checks that the documentation stands on its own in a clone of this repository:
#  1. every relative link in the Markdown files (README.md, docs/, every *.md git tracks or would add) names a file
#     or folder that exists inside the repository, and every #anchor names a heading of the page it points
#     at (GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens, -1, -2 for repeats);
#  2. no tracked file outside the notebooks points at a folder named shared beside the repository (the
#     pattern below), which a user's clone does not have.
# Web links (http, https, mailto) are not fetched. Exits 1 and lists every problem as FILE:LINE: message.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
if outside=$(git grep -n '\.\./shared' -- ':!*.ipynb'); then
  echo "$outside" | sed 's/$/  <- points outside the repository/'
  status=1
fi

mapfile -d '' pages < <(git ls-files -z --cached --others --exclude-standard -- '*.md')
python3 - "$(pwd)" "${pages[@]}" <<'PYTHON' || status=1
import os
import re
import sys
import unicodedata
from urllib.parse import unquote

root = os.path.realpath(sys.argv[1])
files = sys.argv[2:]

FENCE = re.compile(r"^\s{0,3}(```|~~~)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HTML_LINK = re.compile(r"<(?:a|img)\s[^>]*?(?:href|src)=\"([^\"]+)\"", re.IGNORECASE)
HTML_ANCHOR = re.compile(r"<a\s[^>]*?(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def prose_lines(path):
    """(line number, text) of the lines outside fenced code blocks, with code spans blanked out."""
    in_fence = None
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fence = FENCE.match(line)
            if fence:
                if in_fence is None:
                    in_fence = fence.group(1)
                elif fence.group(1) == in_fence:
                    in_fence = None
                continue
            if in_fence is None:
                yield number, line.rstrip("\n")


def slug(heading):
    """GitHub's anchor for a heading: the rendered text, lower case, keeping letters, digits, '_', '-' and spaces."""
    text = CODE_SPAN.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)   # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)                      # HTML tags
    for mark in (r"\*\*", r"__", r"\*", r"_"):                 # emphasis, when opened and closed; a lone '_' stays
        text = re.sub(rf"(?<!\w){mark}(?=\S)(.+?)(?<=\S){mark}(?!\w)", r"\1", text)
    kept = []
    for ch in text.lower():
        category = unicodedata.category(ch)
        if ch in " -" or category[0] in "LMN" or category == "Pc":
            kept.append(ch)
    return "".join(kept).replace(" ", "-")


anchor_cache = {}


def anchors(path):
    if path not in anchor_cache:
        found, seen = set(), {}
        previous = None
        for _, line in prose_lines(path):
            heading = HEADING.match(line)
            text = None
            if heading:
                text = heading.group(2)
            elif previous and previous.strip() and re.match(r"^\s{0,3}(=+|-+)\s*$", line) and not previous.lstrip().startswith(("|", "-", "*", ">")):
                text = previous.strip()   # a setext heading: the line above underlined
            if text is not None:
                base = slug(text)
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            for name in HTML_ANCHOR.findall(line):
                found.add(name)
            previous = line
        anchor_cache[path] = found
    return anchor_cache[path]


problems = []
for relative in files:
    page = os.path.join(root, relative)
    for number, line in prose_lines(page):
        line = CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)
        targets = INLINE_LINK.findall(line) + HTML_LINK.findall(line)
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            targets.append(definition.group(1))
        for target in targets:
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue   # http:, https:, mailto: ...
            where = f"{relative}:{number}"
            path_part, _, anchor = target.partition("#")
            path_part = unquote(path_part)
            if path_part.startswith("/"):
                problems.append(f"{where}: {target} is an absolute path; link relative to the page")
                continue
            resolved = os.path.realpath(os.path.join(os.path.dirname(page), path_part)) if path_part else page
            if resolved != root and not resolved.startswith(root + os.sep):
                problems.append(f"{where}: {target} points outside the repository")
                continue
            if not os.path.exists(resolved):
                problems.append(f"{where}: {target}: no such file or folder")
                continue
            if not anchor:
                continue
            anchor = unquote(anchor)
            if resolved.endswith(".md"):
                if anchor not in anchors(resolved):
                    problems.append(f"{where}: {target}: no heading with the anchor #{anchor} in {os.path.relpath(resolved, root)}")
            elif not re.fullmatch(r"L\d+(-L\d+)?", anchor):
                problems.append(f"{where}: {target}: only line anchors (#L12) can be checked in a file that is not Markdown")

for problem in problems:
    print(problem)
print(f"checked the links of {len(files)} Markdown files: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PYTHON

exit $status
