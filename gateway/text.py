"""How the tools' outputs say a duration and the gist of a message (the matrix's progress
lines and report, the gate, the power report): bottom layer, importing nothing of the tree."""

import re


def fmt_duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


def headline(message, width=160):
    """A message's first line, plus its first compiler/pytest error line when there is one."""
    lines = [l.strip() for l in (message or "").splitlines() if l.strip()]
    if not lines:
        return ""
    err = next((l for l in lines[1:] if re.search(r"\berror\b|^E ", l, re.I)), None)
    return (lines[0] + (" ... " + err if err else ""))[:width]
