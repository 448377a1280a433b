"""The scenario files of every model side by side, aligned by function, waits marked.

    write_source_views(repo, out_dir, ["blocking", "thread-per-task", ...])
    # -> [out_dir/source-crawl.html, out_dir/source-download.html]

    python3 reports/rosetta_report/source_view.py --out DIR [MODEL ...]

STYLE.md's first point made visible: every models/<id>/crawl.cpp has the same skeleton, so
a page with one column per model and one row per top-level function (fetch_and_report beside
fetch_and_report, crawl beside crawl) shows that what changes is only where the code waits.
Each file is cut into its top-level pieces (the opening comment and includes, then every
function, class or declaration with the comment directly above it; namespaces are seen
through), the pieces are highlighted with Pygments, and every line where the code can give
up the CPU gets a marker from RULES. A checkbox dims the lines a piece shares with
blocking's piece of the same name, leaving the difference.

A line-based cutter, not a C++ parser: it counts braces outside comments and literals, which
is all these files need (clang-formatted, no macros). Raw string literals would fool it.
"""

from __future__ import annotations

import argparse
import difflib
import html
import os
import pathlib
import re
import sys
from typing import NamedTuple

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import CppLexer

if not __package__:  # run as a script: import the package as the report does
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from rosetta_report.load import MODEL_ORDER  # noqa: E402  the one order of the models

SCENARIOS = ("crawl", "download")
REFERENCE = "blocking"  # the column every other is read against


class Rule(NamedTuple):
    kind: str         # one of KINDS
    pattern: str      # searched in a line's code, its comments and string contents removed
    description: str  # the marker's tooltip
    models: tuple[str, ...] = ()  # only in these models; () everywhere


# Where the code can give up the CPU. A line takes the first rule that matches, so the order
# matters: co_await first (whatever it awaits, the coroutine suspends), then the rules scoped
# to a model, because the same words wait differently by model (`fetch_ended.wait(lock)`
# puts a thread to sleep in thread-per-task and switches fibers in boost-fibers), then the
# generic ones, which also catch the obvious waits of a model written later.
RULES: tuple[Rule, ...] = (
    Rule("await", r"\bco_(await|yield)\b",
         "co_await: the coroutine suspends and returns to the loop, which resumes it when what "
         "it awaits is ready (a socket, a permit, an event, the group's end)"),
    Rule("await", r"\bco_return\b", "co_return: the coroutine ends; whoever awaits it resumes"),
    Rule("loop", r"\b(hub|loop)\.run\(|\brun_each_on_its_thread\(|\brun_on_fiber_threads\(",
         "the event loop runs inside this call: the thread sleeps in epoll_wait whenever no "
         "task is ready, and the call returns once every task has ended"),
    Rule("fiber", r"(?<![\w:])fetch_url\(", "the fetch parks the fiber in connect, send and recv "
         "until its socket is ready; meanwhile the thread runs other fibers",
         ("stackful-fibers", "boost-fibers")),
    Rule("fiber", r"\b(park_until|sleep_for)\(",
         "the fiber parks on the hub until it is woken (hub.wake) or its deadline passes",
         ("stackful-fibers",)),
    Rule("fiber", r"\bpool\.(spawn|join)\(", "Pool::spawn parks the fiber while C fibers of the "
         "pool are alive; Pool::join parks it until all have ended", ("stackful-fibers",)),
    Rule("fiber", r"\.(pop|push)\(", "a buffered_channel: pop parks the fiber while the channel "
         "is empty, push while it is full; the scheduler runs another", ("boost-fibers",)),
    Rule("fiber", r"\.wait\(lock\)|\bunique_lock\b", "a Boost.Fiber mutex or condition_variable: "
         "the fiber yields to the scheduler, the thread runs other fibers", ("boost-fibers",)),
    Rule("fiber", r"\.join\(\)", "joining a fiber parks the caller until that fiber has ended",
         ("boost-fibers",)),
    Rule("callback", r"\.(call_soon|call_later|post)\(|\bwatch\(", "handed to the reactor: the "
         "lambda runs later, on a turn of its loop, after this function has returned",
         ("epoll-callbacks",)),
    Rule("callback", r"(->|\.)fetch\(", "starts a fetch and returns at once: the reactor drives "
         "it through callbacks, and the request's continuation runs when the URL is done",
         ("epoll-callbacks",)),
    Rule("callback", r"=\s*\[[^\]]*\]", "a continuation: a lambda called back later, when a URL "
         "is done or a limit is hit, from the reactor's loop", ("epoll-callbacks",)),
    Rule("kernel", r"\bwait_(one|all)\(", "the parent sleeps in epoll_wait on the children's "
         "pipes, then in waitpid, until a child ends", ("process-per-task",)),
    Rule("kernel", r"\bthreads\.(spawn|join_all)\(", "spawn sleeps on a condition variable while C "
         "threads are alive; join_all until every thread has ended (pthread_join)",
         ("thread-per-task",)),
    Rule("kernel", r"\bfetch_url\(", "the blocking fetch: the thread sleeps in the kernel, in "
         "poll(), send() and recv(), until the response is complete or the deadline passes"),
    Rule("kernel", r"\.wait\(lock\)",
         "std::condition_variable: the thread sleeps in the kernel until it is notified"),
    Rule("kernel", r"\b(lock_guard|unique_lock|scoped_lock)\b|\block\.lock\(\)",
         "a mutex: the thread sleeps on a futex while another thread holds it"),
    Rule("kernel", r"\bparallel_for_each\(", "returns when every task has run: the calling "
         "thread runs tasks too, and sleeps when none is left for it"),
    Rule("kernel", r"\.join\(\)|\bpthread_join\(|\bwaitpid\(",
         "a join: the thread sleeps until the other thread or process has ended"),
    Rule("kernel", r"(?<![\w.>])(::)?(recv|send|poll|connect|accept|read|write|epoll_wait)\(",
         "a blocking system call: the thread sleeps in the kernel until it returns"),
)

# kind: (glyph, colour, legend)
KINDS = {
    "kernel": ("K", "#c0392b", "the thread (or process) sleeps in the kernel; the OS switches"),
    "fiber": ("F", "#7d3c98", "the fiber parks; its hub or scheduler runs another on this thread"),
    "await": ("A", "#1f618d", "the coroutine suspends; the loop resumes it when ready"),
    "callback": ("C", "#b9770e", "code handed to the reactor, run later by its loop"),
    "loop": ("L", "#1e8449", "the event loop runs here, sleeping in epoll_wait when idle"),
}


class Piece(NamedTuple):
    key: str    # what aligns it with the other models' pieces: a name, "using", "(opening)"
    label: str  # shown in the row header
    start: int  # first line, 0-based
    end: int    # one past the last


_NAMESPACE_OPEN = re.compile(r"(inline\s+)?namespace\b[\w:\s]*\{$")
_TYPE = re.compile(r"(template\s*<.*?>\s*)?(class|struct|union|enum(\s+class)?)\s+(\w+)")


def code_lines(lines: list[str]) -> list[str]:
    """Each line with comments removed and literals emptied: what braces and rules look at."""
    out, in_block = [], False
    for line in lines:
        code, i, n = [], 0, len(line)
        while i < n:
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    break
                in_block, i = False, end + 2
            elif line.startswith("//", i):
                break
            elif line.startswith("/*", i):
                in_block, i = True, i + 2
            elif line[i] in "\"'":
                quote, j = line[i], i + 1
                while j < n and line[j] != quote:
                    j += 2 if line[j] == "\\" else 1
                code.append(quote * 2)
                i = j + 1
            else:
                code.append(line[i])
                i += 1
        out.append("".join(code))
    return out


def pieces_of(lines: list[str]) -> list[Piece]:
    """The file's top-level pieces, in order; namespace lines belong to none."""
    code = code_lines(lines)
    n = len(lines)
    # The opening: the story comment and the includes, up to the last preprocessor line.
    head_end = 0
    for i in range(n):
        stripped = code[i].strip()
        if stripped.startswith("#"):
            head_end = i + 1
        elif stripped:
            break
    pieces = [Piece("(opening)", "the opening comment and includes", 0, head_end)]
    namespaces, comment_start, i = 0, None, head_end
    while i < n:
        stripped = code[i].strip()
        if not stripped:
            # A comment with a blank line under it is not "directly above" anything.
            comment_start = None if not lines[i].strip() else (
                i if comment_start is None else comment_start)
            i += 1
            continue
        if _NAMESPACE_OPEN.match(stripped):
            namespaces, comment_start, i = namespaces + 1, None, i + 1
            continue
        if stripped == "}" and namespaces:
            namespaces, comment_start, i = namespaces - 1, None, i + 1
            continue
        start = i if comment_start is None else comment_start
        depth, j = 0, i
        while j < n:  # the statement ends where its braces close on a ';' or a '}'
            depth += code[j].count("{") - code[j].count("}")
            if depth <= 0 and code[j].rstrip()[-1:] in (";", "}"):
                break
            j += 1
        pieces.append(_named(" ".join(code[i:j + 1]).strip(), start, j + 1))
        comment_start, i = None, j + 1
    return _merge_usings(pieces)


def _named(statement: str, start: int, end: int) -> Piece:
    if statement.startswith("using "):
        return Piece("using", "using declarations", start, end)
    typed = _TYPE.match(statement)
    if typed:
        return Piece(typed.group(4), f"{typed.group(2)} {typed.group(4)}", start, end)
    head = statement.split("(")[0]
    if "(" in statement and "=" not in head and "{" not in head:
        name = re.findall(r"[\w~]+", head)[-1]
        return Piece(name, f"{name}()", start, end)
    names = re.findall(r"\w+", re.split(r"[={;]", statement)[0])
    name = names[-1] if names else statement[:30]
    return Piece(name, name, start, end)


def _merge_usings(pieces: list[Piece]) -> list[Piece]:
    """Adjacent using-declarations make one piece; a repeated name gets a number, to stay apart."""
    merged: list[Piece] = []
    for piece in pieces:
        if merged and piece.key == "using" == merged[-1].key:
            merged[-1] = merged[-1]._replace(end=piece.end)
            continue
        taken = sum(1 for p in merged if p.key.split(" #")[0] == piece.key)
        merged.append(piece._replace(key=f"{piece.key} #{taken + 1}") if taken else piece)
    return merged


def union_order(files: list[list[Piece]]) -> list[str]:
    """Row keys: the first file's order, each new key placed after the key before it in its file
    (so a helper sits above the function that calls it, as in the file)."""
    order: list[str] = []
    for pieces in files:
        previous = None
        for piece in pieces:
            if piece.key not in order:
                order.insert(order.index(previous) + 1 if previous else 0, piece.key)
            previous = piece.key
    return order


def marker(model: str, code: str) -> Rule | None:
    for rule in RULES:
        if (not rule.models or model in rule.models) and re.search(rule.pattern, code):
            return rule
    return None


def lines_of_code(lines: list[str]) -> int:
    """Non-blank lines that are not only comment."""
    return sum(1 for code in code_lines(lines) if code.strip())


def _normal(line: str) -> str:
    return " ".join(line.split())


def same_as_reference(lines: list[str], reference: list[str]) -> set[int]:
    """Indices of lines that the reference piece also has, matched in order by difflib."""
    matcher = difflib.SequenceMatcher(None, [_normal(x) for x in reference],
                                      [_normal(x) for x in lines], autojunk=False)
    return {j for b in matcher.get_matching_blocks() for j in range(b.b, b.b + b.size)}


class Source(NamedTuple):
    model: str
    path: str              # repository-relative
    lines: list[str]       # empty when the model has no such file
    html_lines: list[str]  # highlighted, one per line
    pieces: dict[str, Piece]


def _read(repo: pathlib.Path, model: str, scenario: str) -> Source:
    relative = f"models/{model}/{scenario}.cpp"
    file = repo / relative
    if not file.is_file():
        return Source(model, relative, [], [], {})
    lines = file.read_text(encoding="utf-8").splitlines()
    highlighted = highlight("\n".join(lines) + "\n", CppLexer(stripnl=False, ensurenl=True),
                            HtmlFormatter(nowrap=True)).split("\n")
    return Source(model, relative, lines, highlighted[:len(lines)],
                  {p.key: p for p in pieces_of(lines)})


def _folder_loc(repo: pathlib.Path, model: str) -> int:
    files = sorted((repo / "models" / model).rglob("*.[ch]pp"))
    return sum(lines_of_code(f.read_text(encoding="utf-8").splitlines()) for f in files)


def _builds_on(repo: pathlib.Path, model: str) -> list[str]:
    """Other models whose files this one includes: what its folder's count leaves out."""
    used = set()
    for file in (repo / "models" / model).rglob("*.[ch]pp"):
        used |= set(re.findall(r'#include "models/([\w-]+)/', file.read_text(encoding="utf-8")))
    return sorted(used - {model}, key=_canonical_rank)


def _canonical_rank(model: str) -> tuple[int, str]:
    return (MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER), model)


def _cell(source: Source, key: str, reference: Source | None) -> str:
    piece = source.pieces.get(key)
    if piece is None:
        what = "no such file" if not source.lines else "nothing of this name here"
        return f'<td class="cell empty" data-model="{source.model}">{what}</td>'
    lines = source.lines[piece.start:piece.end]
    code = code_lines(source.lines)[piece.start:piece.end]
    is_reference = source.model == REFERENCE
    same: set[int] = set()
    if reference is not None and not is_reference and key in reference.pieces:
        ref = reference.pieces[key]
        same = same_as_reference(lines, reference.lines[ref.start:ref.end])
    out = []
    for i, line_html in enumerate(source.html_lines[piece.start:piece.end]):
        rule = marker(source.model, code[i])
        classes = ["ln", "ref" if is_reference else "same" if i in same else "diff"]
        glyph, title = "", ""
        if rule:
            classes += ["sp", f"sp-{rule.kind}"]
            glyph = KINDS[rule.kind][0]
            title = f' title="{html.escape(f"{rule.kind}: {rule.description}")}"'
        # Line number and glyph are CSS content, and each line keeps its newline: copying a
        # cell gives the code alone.
        out.append(f'<span class="{" ".join(classes)}" data-n="{piece.start + i + 1}"{title}>'
                   f'<span class="g" data-g="{glyph}"></span>{line_html}\n</span>')
    ref_class = " ref" if is_reference else ""
    return (f'<td class="cell{ref_class}" data-model="{source.model}">'
            f'<pre class="src">{"".join(out)}</pre></td>')


def _header(repo: pathlib.Path, out_dir: pathlib.Path, source: Source) -> str:
    # A working link when the page lands inside the repository (reports/...); elsewhere the
    # repository-relative path, never one of the machine that wrote the page.
    href = source.path
    if out_dir.resolve().is_relative_to(repo.resolve()):
        href = os.path.relpath(repo.resolve() / source.path, out_dir.resolve())
        href = pathlib.Path(href).as_posix()
    loc = lines_of_code(source.lines)
    on = _builds_on(repo, source.model)
    uses = f'<div class="uses">also links {", ".join(on)}</div>' if on else ""
    return (f'<th class="model" data-model="{source.model}"><div class="id">{source.model}</div>'
            f'<div class="loc" title="lines of code: neither blank nor only comment">{loc} lines '
            f'of code here · {_folder_loc(repo, source.model)} in models/{source.model}/</div>'
            f'{uses}'
            f'<a href="{html.escape(href)}">{source.path}</a> · '
            f'<a href="index.html#model-{source.model}">its numbers</a></th>')


_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.2em; color: #222; }
.legend span.g { display: inline-block; width: 1.4em; text-align: center; color: #fff;
                 border-radius: 3px; margin-right: .3em; }
.scroll { overflow: auto; max-height: 88vh; border: 1px solid #ccc; }
table { border-collapse: collapse; }
th.model { position: sticky; top: 0; z-index: 2; background: #eef2f5; text-align: left;
           vertical-align: top; padding: .4em .6em; border: 1px solid #ccc; font-weight: normal; }
th.model .id { font-weight: bold; font-size: 1.1em; }
th.model .loc, th.model .uses { color: #555; font-size: .9em; }
tr.name .label { position: sticky; left: .6em; }
tr.name th { scroll-margin-top: 7em; text-align: left; background: #fafafa; padding: .5em .6em .2em;
             font-family: ui-monospace, monospace; border-top: 2px solid #bbb; }
tr.name .where { font: .85em system-ui, sans-serif; color: #666; margin-left: 1em; }
td.cell { vertical-align: top; border: 1px solid #ddd; padding: 0; min-width: 40ch; }
td.empty { background: repeating-linear-gradient(45deg, #f2f2f2, #f2f2f2 6px, #e9e9e9 6px,
           #e9e9e9 12px); color: #999; font-style: italic; padding: .4em; }
pre.src { margin: 0; padding: .3em 0; font: 12px/1.4 ui-monospace, monospace; }
.ln { display: block; white-space: pre; padding-right: 1em; border-left: 4px solid transparent; }
.ln::before { content: attr(data-n); display: inline-block; width: 3.5ch; margin-right: 1ch;
              text-align: right; color: #aaa; }
.ln .g::before { content: attr(data-g); }
.ln .g { display: inline-block; width: 1.6ch; margin-right: .6ch; text-align: center;
         font-weight: bold; color: #fff; border-radius: 2px; }
body.only-diff .ln.same { opacity: .18; }
"""

_SCRIPT = ("document.getElementById('only-diff').addEventListener('change', "
           "e => document.body.classList.toggle('only-diff', e.target.checked));")


def _style() -> str:
    marks = "".join(f".sp-{kind} {{ border-left-color: {colour}; }} "
                    f".sp-{kind} .g, .legend .g-{kind} {{ background: {colour}; }}\n"
                    for kind, (_, colour, _) in KINDS.items())
    pygments_css = "\n".join(line for line in
                             HtmlFormatter(style="default").get_style_defs(".src").splitlines()
                             if line.startswith(".src"))
    return f"<style>{_CSS}{marks}{pygments_css}\n.src {{ background: #fff; }}</style>"


def _page(repo: pathlib.Path, out_dir: pathlib.Path, scenario: str, models: list[str]) -> str:
    sources = [_read(repo, m, scenario) for m in models]
    reference = next((s for s in sources if s.model == REFERENCE), None)
    if reference is None and (repo / "models" / REFERENCE).is_dir():
        reference = _read(repo, REFERENCE, scenario)  # the baseline even when not a column
    ordered = ([reference] if reference else []) + [s for s in sources if s is not reference]
    keys = union_order([list(s.pieces.values()) for s in ordered])
    rows, index = [], []
    for key in keys:
        having = [s.model for s in sources if key in s.pieces]
        label = next(s.pieces[key].label for s in ordered if key in s.pieces)
        where = ("in every model" if len(having) == len(sources)
                 else "only in " + ", ".join(having))
        name = html.escape(key)
        anchor = "row-" + re.sub(r"\W+", "-", key).strip("-")
        index.append(f'<a href="#{anchor}">{html.escape(label)}</a>')
        rows.append(f'<tr class="name" data-piece="{name}">'
                    f'<th id="{anchor}" colspan="{len(sources)}">'
                    f'<span class="label">{html.escape(label)}'
                    f'<span class="where">{where}</span></span></th></tr>'
                    f'<tr class="piece" data-piece="{name}">'
                    + "".join(_cell(s, key, reference) for s in sources) + "</tr>")
    legend = "".join(f'<li><span class="g g-{kind}">{glyph}</span><b>{kind}</b>: {text}</li>'
                     for kind, (glyph, _, text) in KINDS.items())
    other = next(s for s in SCENARIOS if s != scenario)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{scenario}.cpp, model by model</title>
{_style()}</head>
<body>
<h1>{scenario}.cpp, model by model</h1>
<p>Each column is one model's <code>models/&lt;id&gt;/{scenario}.cpp</code>; each row one of its
top-level pieces, so the same function sits on the same row in every model. The skeleton is the
same everywhere: what changes is who waits, and where. The marked lines are where the code can
give up the CPU; hover one to read what waits there. Also:
<a href="source-{other}.html">{other}.cpp</a>, <a href="index.html">the numbers</a>.</p>
<ul class="legend">{legend}</ul>
<p>Rows: {" · ".join(index)}</p>
<p><label><input type="checkbox" id="only-diff"> show only what differs from blocking</label>
(dims each line that blocking's piece of the same name also has, whitespace aside)</p>
<div class="scroll"><table>
<thead><tr>{"".join(_header(repo, out_dir, s) for s in sources)}</tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>
<script>{_SCRIPT}</script>
</body></html>
"""


def default_models(repo: pathlib.Path) -> list[str]:
    found = [p.name for p in (repo / "models").iterdir() if (p / "crawl.cpp").is_file()]
    return sorted(found, key=_canonical_rank)


def write_source_views(repo: pathlib.Path, out_dir: pathlib.Path,
                       models: list[str]) -> list[pathlib.Path]:
    """Writes out_dir/source-crawl.html and out_dir/source-download.html; returns their paths."""
    repo, out_dir = pathlib.Path(repo), pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = sorted(dict.fromkeys(models), key=_canonical_rank)  # blocking first: the baseline
    written = []
    for scenario in SCENARIOS:
        path = out_dir / f"source-{scenario}.html"
        path.write_text(_page(repo, out_dir, scenario, models), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, type=pathlib.Path, help="directory to write to")
    parser.add_argument("models", nargs="*", help="model ids (default: every one with a crawl.cpp)")
    args = parser.parse_args(argv)
    repo = pathlib.Path(__file__).resolve().parents[2]
    for path in write_source_views(repo, args.out, args.models or default_models(repo)):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
