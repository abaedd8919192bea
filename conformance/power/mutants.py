"""Single-point mutations of the gateway's C sources: finding the sites, sampling, applying.

Sites are found on a masked copy of each file in which comments, string and character
literals and preprocessor lines (with their continuations) are blanked out, offsets and
newlines kept, so no operator or literal in them is ever mutated.
"""

import fnmatch
import random
import re
from dataclasses import dataclass, asdict
from pathlib import Path

FAMILIES = ("relational", "logical", "negate", "constant", "delete-call", "return")

# Boundary shifts for orderings, negation for equalities.
RELATIONAL = {"<": "<=", "<=": "<", ">": ">=", ">=": ">", "==": "!=", "!=": "=="}
LOGICAL = {"&&": "||", "||": "&&"}
RETURNS = {"OK": "DECLINED", "DECLINED": "OK", "DONE": "OK", "0": "-1", "-1": "0", "1": "0",
           "APR_SUCCESS": "APR_EGENERAL", "NULL": None}
KEYWORDS = {"if", "for", "while", "switch", "return", "sizeof", "do", "case", "else", "defined"}
INT_TYPES = r"\b(int|long|short|char|unsigned|size_t|ssize_t|apr_\w+_t|Py_ssize_t|\w+_t)\b"


@dataclass(frozen=True)
class Mutant:
    file: str          # name inside the source folder
    line: int          # 1-based, of the first character changed
    column: int        # 1-based
    family: str
    original: str
    replacement: str
    offset: int        # into the file's text

    @property
    def id(self):
        return "%s:%d:%d:%s" % (self.file, self.line, self.column, self.family)

    def as_dict(self):
        return dict(asdict(self), id=self.id)

    def change(self, width=70):
        """'a < b' -> 'a <= b' on one line, for tables."""
        def one(s):
            s = " ".join(s.split())
            return s if len(s) <= width else s[:width - 3] + "..."
        return "`%s` -> `%s`" % (one(self.original), one(self.replacement) or "(deleted)")


def mask(text):
    """`text` with comments, literals and preprocessor lines blanked (same length, same newlines)."""
    out = list(text)
    i, n, line_start = 0, len(text), True

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "\n":
            line_start = True
            i += 1
            continue
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":       # directive, up to an unescaped newline
            j = i
            while j < n and not (text[j] == "\n" and text[j - 1] != "\\"):
                if text.startswith("/*", j):   # a comment may carry the directive over lines
                    j = text.find("*/", j + 2)
                    j = n if j < 0 else j + 2
                    continue
                j += 1
            blank(i, j)
            i = j
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j += 1
        else:
            i += 1
            continue
        blank(i, j)
        i = j
    return "".join(out)


def _close_paren(m, i):
    """Index just past the parenthesis matching the one at m[i]."""
    depth = 0
    for j in range(i, len(m)):
        if m[j] == "(":
            depth += 1
        elif m[j] == ")":
            depth -= 1
            if depth == 0:
                return j + 1
    return -1


def _paren_depth(m, start, pos):
    seg = m[start:pos]
    return seg.count("(") - seg.count(")")


def _statement_start(m, pos):
    """Whether a statement may start at pos: after ; { } : else, or the `)` of if/while/for
    (not of a cast, whose operand a deletion would leave dangling)."""
    k = len(m[:pos].rstrip()) - 1
    if k < 0 or m[k] != ")":
        return True
    depth = 0
    while k >= 0:
        depth += {")": 1, "(": -1}.get(m[k], 0)
        if depth == 0:
            break
        k -= 1
    return bool(re.search(r"\b(if|while|for)\s*$", m[:k]))


def _first_branches(text, m):
    """m with the braces of #else/#elif branches blanked: branches may open one block each
    (`#ifdef X if (1) { #else if (y) { #endif`), so only the first is counted."""
    out, stack, pos = list(m), [], 0
    for line in text.split("\n"):
        d = re.match(r"\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b", line)
        if d:
            k = d.group(1)
            if k.startswith("if"):
                stack.append(False)
            elif stack:
                if k == "endif":
                    stack.pop()
                else:
                    stack[-1] = True
        elif any(stack):
            for i in range(pos, pos + len(line)):
                if out[i] in "{}":
                    out[i] = " "
        pos += len(line) + 1
    return "".join(out)


def _functions(m):
    """[(body start, body end, return type text)] of every function definition."""
    out, depth, start, head_from, rtype = [], 0, 0, 0, None
    for i, c in enumerate(m):
        if c == "{":
            if depth == 0:
                start = i
                head = m[head_from:i]
                fm = re.search(r"([^;{}()=]*?)\b[A-Za-z_]\w*\s*\([^;{}=]*\)\s*$", head)
                rtype = fm.group(1) if fm and "=" not in head else None
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if rtype is not None:
                    out.append((start, i, rtype))
                head_from = i + 1
        elif c == ";" and depth == 0:
            head_from = i + 1
    return out


def _return_value(expr, rtype):
    """The changed value of `return expr;` in a function returning `rtype`, or None."""
    if "*" in rtype:
        return None if expr == "NULL" else "NULL"
    if not re.search(INT_TYPES, rtype):
        return None
    if expr in RETURNS:
        return RETURNS[expr]
    if expr.startswith("HTTP_"):
        return "OK"
    if expr.startswith("APR_E"):
        return "APR_SUCCESS"
    return "0"


def sites(name, text):
    """Every mutation site in one C file, in file order."""
    m = mask(text)
    funcs = _functions(_first_branches(text, m))
    in_body = lambda pos: next((f for f in funcs if f[0] < pos < f[1]), None)
    found = []

    def add(family, pos, original, replacement):
        if replacement is None or replacement == original or not in_body(pos):
            return
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        found.append(Mutant(name, line, col, family, original, replacement, pos))

    for r in re.finditer(r"(?<![<>=!\-])(<=|>=|==|!=|<|>)(?![<>=])", m):
        add("relational", r.start(), r.group(), RELATIONAL[r.group()])
    for r in re.finditer(r"&&|\|\|", m):
        add("logical", r.start(), r.group(), LOGICAL[r.group()])
    for r in re.finditer(r"\bif\s*\(", m):
        a = r.end() - 1
        b = _close_paren(m, a)
        if b > 0:
            add("negate", a, text[a:b], "(!" + text[a:b] + ")")
    for r in re.finditer(r"(?<![\w.])(0[xX][0-9a-fA-F]+|\d+)([uUlL]*)(?![\w.])", m):
        lit, suffix = r.groups()
        if lit[:2] in ("0x", "0X"):
            v, fmt = int(lit, 16), "0x%x"
        elif re.match(r"0[0-7]+$", lit):      # file modes such as 0600 stay octal
            v, fmt = int(lit, 8), "0%o"
        else:
            v, fmt = int(lit), "%d"
        add("constant", r.start(), r.group(), fmt % {0: 1, 1: 0}.get(v, v + 1) + suffix)
    # A call statement: after ; { } ) : or else, `f(...);` or `a->b(...);`, nothing assigned.
    for r in re.finditer(r"(?:(?<=[;{}):])|(?<=\belse))\s*((?:\(void\)\s*)?([A-Za-z_]\w*)"
                         r"(?:\s*(?:->|\.)\s*\w+)*\s*\()", m):
        a, f = r.start(1), in_body(r.start(1))
        # not inside parentheses (a for header), not the operand of a cast
        if not f or r.group(2) in KEYWORDS or _paren_depth(m, f[0], a) or not _statement_start(m, r.start()):
            continue
        b = _close_paren(m, r.end(1) - 1)
        semi = re.match(r"\s*;", m[b:]) if b > 0 else None
        if semi:
            stmt = text[a:b + semi.end()]
            add("delete-call", a, stmt, ";" + "\n" * stmt.count("\n"))  # keep __LINE__ values
    for r in re.finditer(r"\breturn\b\s*([^;]*?)\s*;", m):
        f = in_body(r.start())
        expr = r.group(1)
        if f and expr and "\n" not in expr:
            a = r.start(1)
            add("return", a, text[a:r.end(1)], _return_value(" ".join(expr.split()), f[2]))
    return sorted(found, key=lambda x: (x.offset, x.family))


def c_files(src, files=None):
    """The .c files of a source folder (never fuzz/), filtered by comma-separated globs."""
    globs = [g.strip() for g in (files or "*.c").split(",") if g.strip()]
    return sorted(p for p in Path(src).glob("*.c")
                  if any(fnmatch.fnmatch(p.name, g) for g in globs))


def sample(src, n, seed, files=None, families=FAMILIES):
    """n mutants, the same for the same sources and seed: families take turns, and within a
    family the files take turns (in an order shuffled by the seed), each giving a random site."""
    rng = random.Random(seed)
    pools = {}
    for p in c_files(src, files):
        for s in sites(p.name, p.read_text()):
            if s.family in families:
                pools.setdefault(s.family, {}).setdefault(s.file, []).append(s)
    queues = {}
    for fam in families:
        per_file = pools.get(fam, {})
        order = sorted(per_file)
        rng.shuffle(order)
        for f in order:
            rng.shuffle(per_file[f])
        queues[fam] = [order, per_file, 0]
    chosen = []
    while len(chosen) < n and any(q[0] for q in queues.values()):
        for fam in families:
            order, per_file, turn = queues[fam]
            if not order or len(chosen) >= n:
                continue
            f = order[turn % len(order)]
            chosen.append(per_file[f].pop())
            if not per_file[f]:
                order.remove(f)
            else:
                queues[fam][2] = turn + 1
    return chosen


def apply(mutant, text):
    """The file's text with the mutant's one change."""
    end = mutant.offset + len(mutant.original)
    if text[mutant.offset:end] != mutant.original:
        raise ValueError("%s: the source no longer reads %r there" % (mutant.id, mutant.original))
    return text[:mutant.offset] + mutant.replacement + text[end:]
