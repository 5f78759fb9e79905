"""report.html: one standalone file with both views, words and a scrubber."""
from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import pytest
from drawkit import parse, small_trace

from hueyviz.core.trace import Trace
from hueyviz.demo import run_demo
from hueyviz.render.report import render_report


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.scripts, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(a for a, _ in attrs)
        if tag == "script":
            self._in = dict(attrs)
            self.scripts.append([dict(attrs), ""])

    def handle_endtag(self, tag):
        if tag == "script":
            self._in = None

    def handle_data(self, data):
        if self._in is not None:
            self.scripts[-1][1] += data


@pytest.fixture(scope="module")
def demo():
    return run_demo(out=None, render=False)


def check(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    assert p.tags.count("script") == 2                 # our data and our code, no more
    assert not re.search(r'(src|href)="(https?:)?//', html)   # nothing fetched
    assert "cdn" not in html.lower()
    data = [s for a, s in p.scripts if a.get("type") == "application/json"][0]
    assert "</" not in data and "\u2028" not in data
    json.loads(data)
    return p


def test_demo_report_has_both_views_words_and_scrubber(demo):
    html = render_report(demo.trace, demo.diagnosis)
    p = check(html)
    assert 'type="range"' in html
    assert "Deadlock at +" in html and "The wait that closed it" in html
    svg = html[html.index("<svg"):html.index("</svg>") + 6]
    parse(svg)
    frames = re.findall(r'class="frame[^"]*"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert len(frames) >= 2
    for f in frames:
        parse(base64.b64decode(f).decode("utf-8"))
    assert "input" in p.tags


def test_hostile_strings_stay_text():
    evil = '</script><script>alert(1)</script>\u2028<img src=x onerror=alert(1)>'
    html = render_report(small_trace(name=evil, wname=evil, message=evil, args=evil))
    p = check(html)
    assert "onerror" not in p.attrs
    assert p.tags.count("img") == html.count('class="frame')   # only our snapshots


def test_empty_trace_report():
    html = render_report(Trace([]))
    check(html)


def test_deterministic(demo):
    assert render_report(demo.trace) == render_report(demo.trace)
