"""One execution bar of the lane view: its rectangle, blocked intervals,
labels and tooltips.

Text is measured with :func:`~hueyviz.render.markup.text_width` and cut
with an ellipsis to fit; the full text is always in the ``<title>`` tooltip.
"""
from __future__ import annotations

from typing import List

from . import palette as P
from .axis import duration_label
from .markup import contrast_text, esc, fit, num, text_width, uid
from .timeline import Timeline

__all__ = ["FS", "MIN_BAR_PX", "OUTCOME_WORDS", "draw_bar", "outcome_colour"]

FS = 11.0               # label font size (px)
MIN_BAR_PX = 1.5
S_LABEL = 'style="font-size:10px"'

OUTCOME_WORDS = {
    "complete": "complete", "error": "error", "retrying": "retried",
    "revoked": "revoked", "expired": "expired", "canceled": "canceled",
    "locked": "locked", "rate-limited": "rate-limited", "timeout": "timeout",
    "interrupted": "interrupted", "lost": "lost (worker died)",
    "running": "running at the end",
}



def outcome_colour(key: str) -> str:
    return P.state_colour(key)


def _label(bar) -> List[str]:
    short = f"[{bar.task[:4]}]"
    out = []
    if bar.args:
        out.append(f"{bar.name}{bar.args} {short}")
    out += [f"{bar.name} {short}", bar.name]
    return out


def _bar_tip(bar, tl: Timeline, worker: str) -> str:
    args = bar.args or ""
    words = OUTCOME_WORDS.get(bar.outcome, bar.outcome)
    lines = [f"{bar.name}{args} [{bar.task}] on {worker}",
             f"{words}; started +{duration_label(bar.start - tl.t0)}, "
             f"{'running for' if bar.open else 'ran'} {duration_label(bar.end - bar.start)}"]
    if bar.enqueued is not None and bar.enqueued <= bar.start:
        lines.append(f"waited {duration_label(bar.start - bar.enqueued)} in the queue")
    if bar.error:
        lines.append(f"error: {bar.error}")
    for bl in bar.blocks:
        lines.append(_block_tip(bl, tl))
    return "\n".join(lines)


def _block_tip(bl, tl: Timeline) -> str:
    s = (f"blocked on {bl.target} ({bl.target_state}) from +{duration_label(bl.since - tl.t0)}"
         f" {'still waiting' if bl.open else 'for ' + duration_label(bl.until - bl.since)}")
    if bl.timeout is not None:
        s += f", timeout {num(bl.timeout, 3)} s"
    if bl.site:
        s += f" at {bl.site}"
    if bl.culprit:
        s += " (the wait that closed the deadlock)"
    return s


def draw_bar(b, d, by: float, bh: float, tl: Timeline, worker: str) -> List[str]:
    x0, x1 = d.x(b.start), d.x(b.end)
    w = max(x1 - x0, MIN_BAR_PX)
    names = getattr(d, "name_colours", None)
    fill = names.get(b.name, P.STATE_COLOURS["unknown"]) if names else outcome_colour(b.outcome)
    bid = uid("hv-b", b.task, x0)
    sep = ' stroke="#FFFFFF" stroke-width="0.6"' if w >= 4 else ""
    out = [f'<g class="bar o-{esc(b.outcome)}" id="{bid}"><title>{esc(_bar_tip(b, tl, worker))}</title>'
           f'<rect x="{num(x0, 1)}" y="{num(by, 1)}" width="{num(w, 1)}" height="{num(bh, 1)}" '
           f'fill="{fill}"{sep}/>']
    if b.open and d.stuck_x is not None and d.stuck_x > x1:
        out.append(f'<rect class="after" x="{num(x1, 1)}" y="{num(by, 1)}" '
                   f'width="{num(d.stuck_x - x1, 1)}" height="{num(bh, 1)}" fill="{fill}" '
                   'opacity="0.45"/>')
        x1 = d.stuck_x
    if b.open:
        out.append(f'<path d="M{num(x1 + 1, 1)} {num(by, 1)}l5 {num(bh / 2, 1)}l-5 '
                   f'{num(bh / 2, 1)}z" fill="{fill}"/>')
    first_block = min((d.x(bl.since) for bl in b.blocks), default=x1)
    size = FS if bh >= 14 else (9.0 if bh >= 10 else 0)
    named = False
    if size:
        room = first_block - x0 - 6
        for cand in _label(b):
            if text_width(cand, size) <= room:
                text = cand
                break
        else:
            text = fit(b.name, room, size)
            if len(text) < 5 and text != b.name:
                text = ""
        if text:
            named = True
            out.append(f'<text x="{num(x0 + 3, 1)}" y="{num(by + bh / 2 + size * 0.36, 1)}" '
                       f'style="font-size:{num(size)}px;fill:{contrast_text(fill)}">{esc(text)}</text>')
    for bl in b.blocks:
        bx0, bx1 = d.x(bl.since), d.x(bl.until)
        after = ""
        ex1 = bx1
        if bl.open and b.open and d.stuck_x is not None and d.stuck_x > bx1:
            after = (f'<rect class="after" x="{num(bx1, 1)}" y="{num(by, 1)}" '
                     f'width="{num(d.stuck_x - bx1, 1)}" height="{num(bh, 1)}" '
                     'fill="url(#hv-hatch-faded)"/>')
            ex1 = d.stuck_x
        cls = "block" + (" culprit" if bl.culprit else "") + (" knot" if bl.knot else "")
        stroke = ""
        if bl.culprit:
            d.culprit_boxes.append((bx0, by, max(ex1, bx0 + 1.0), bh))
            stroke = f'stroke="{P.CULPRIT}" stroke-width="2.5"'
        elif bl.knot:
            stroke = f'stroke="{P.KNOT}" stroke-width="1.5"'
        out.append(f'<g class="{cls}" id="{uid("hv-w", b.task, bl.waits_on, bl.since)}">'
                   f'<title>{esc(_block_tip(bl, tl))}</title>'
                   f'<rect x="{num(bx0, 1)}" y="{num(by, 1)}" width="{num(max(bx1 - bx0, 1.0), 1)}" '
                   f'height="{num(bh, 1)}" fill="url(#hv-hatch)"/>{after}')
        if stroke:
            out.append(f'<rect x="{num(bx0, 1)}" y="{num(by, 1)}" width="{num(max(ex1 - bx0, 1.0), 1)}" '
                       f'height="{num(bh, 1)}" fill="none" {stroke}/>')
        bx1 = ex1
        if size:
            out.extend(_block_label(b, bl, bx0, bx1, by, bh, named))
            named = True
        out.append("</g>")
    out.append("</g>")
    return out


def _block_label(b, bl, bx0: float, bx1: float, by: float, bh: float, named: bool) -> List[str]:
    """The words on a blocked interval, on a light box so the hatch stays readable."""
    size = 10.0
    room = bx1 - bx0 - 8
    # An open wait says what the awaited task is doing at the end (queued...);
    # a closed one just names it.
    verb, state = ("waits for", f" ({bl.target_state})") if bl.open else ("waited for", "")
    cands = [f"{verb} {bl.target}{state}", f"{verb} {bl.target}", f"→ {bl.target}"]
    if not named:
        cands = [f"{b.name} [{b.task[:4]}] {verb} {bl.target}{state}",
                 f"{b.name} {verb} {bl.target}"] + cands
    for cand in cands:
        tw = text_width(cand, size)
        if tw <= room:
            return [f'<rect x="{num(bx0 + 2, 1)}" y="{num(by + bh / 2 - 7, 1)}" '
                    f'width="{num(tw + 4, 1)}" height="14" rx="2" fill="#FFFFFF" opacity="0.88"/>'
                    f'<text class="blabel" {S_LABEL} x="{num(bx0 + 4, 1)}" '
                    f'y="{num(by + bh / 2 + 3.6, 1)}">{esc(cand)}</text>']
    return []
