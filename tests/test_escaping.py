"""Hostile strings through every renderer: markup stays markup, text stays text.

Task names (``@huey.task(name=...)`` takes any string), args, exception
messages, call sites and worker names come from user code.  For each
renderer: SVG parses as XML, no element or attribute appears that a benign
name does not produce, DOT parses (Graphviz lays it out), JSON parses.
"""
from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET

from drawkit import parse, small_trace, tags
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Imported plainly: a renderer that fails to import fails these tests; it
# must never turn them into skips.
from hueyviz.render.animated import render_animated
from hueyviz.render.engine import render_svg as dot_to_svg
from hueyviz.render.lanes import render_lanes
from hueyviz.render.perfetto import render_perfetto
from hueyviz.render.report import render_report
from hueyviz.render.waitfor import render_waitfor, waitfor

HOSTILE = [
    "<script>alert(1)</script>", '"]; x -> y [label="pwned', "</svg><svg onload=alert(1)>",
    "&amp;&lt;&#0;", "]]><!--", "\x00\x01\x1b[31m", "\ud800", "\u2028\u2029", "{\\rtf}",
    'a"b\'c<d>e&f', "\\N{}\\l\\G", "<<A>>", "x" * 300, "", " ", "\ufeff\uffff",
]
names = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40),
                  st.text(alphabet='<>&"\'\\;[]{}=-/ \n\t\x00', max_size=20))


def _attrs(root) -> set:
    return {a for el in root.iter() for a in el.attrib}


def _svg_shape(svg: str):
    root = parse(svg)
    return set(tags(root)), _attrs(root), tags(root).count("script")


BENIGN = {}


def _benign(kind: str, fn):
    if kind not in BENIGN:
        BENIGN[kind] = fn(small_trace())
    return BENIGN[kind]


def _check_svg(kind: str, fn, tr) -> None:
    svg = fn(tr)
    got_tags, got_attrs, scripts = _svg_shape(svg)
    ok_tags, ok_attrs, _ = _svg_shape(_benign(kind, fn))
    assert scripts == 0
    assert got_tags <= ok_tags | {"text", "title", "tspan"}, got_tags - ok_tags
    assert got_attrs <= ok_attrs, got_attrs - ok_attrs
    for uri in re.findall(r'href="data:image/svg\+xml;base64,([^"]+)"', svg):
        inner = parse(base64.b64decode(uri).decode("utf-8"))
        assert "script" not in tags(inner)


def _trace(name, wname, args, message, site):
    return small_trace(name=name, wname=wname or "w", args=args, message=message, site=site,
                       host=wname)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(name=names, wname=names, args=names, message=names, site=names)
def test_lanes_and_report_escape_everything(name, wname, args, message, site):
    tr = _trace(name, wname, args, message, site)
    _check_svg("lanes", render_lanes, tr)
    _check_svg("lanes_spawn", lambda t: render_lanes(t, show_spawn=True), tr)
    html = render_report(tr)
    assert html.count("<script") == 2
    data = html[html.index('id="hv-data">') + 13:]
    data = data[:data.index("</script>")]
    json.loads(data)
    lanes = html[html.index("<svg"):html.index("</svg>") + 6]
    assert "script" not in tags(parse(lanes))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, wname=names, message=names, site=names)
def test_animated_escapes_everything(name, wname, message, site):
    _check_svg("animated", render_animated, _trace(name, wname, "()", message, site))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, wname=names, args=names, message=names, site=names)
def test_waitfor_dot_and_svg(name, wname, args, message, site):
    tr = _trace(name, wname, args, message, site)
    at = tr[0].t + 0.1                       # while the parent waits on the child
    _check_svg("waitfor", lambda t: render_waitfor(t, at=at), tr)
    ET.fromstring(dot_to_svg(waitfor(tr, at=at).source).encode("utf-8"))


@settings(max_examples=40, deadline=None)
@given(name=names, wname=names, args=names, message=names, site=names)
def test_perfetto_json_parses(name, wname, args, message, site):
    doc = json.loads(render_perfetto(_trace(name, wname, args, message, site)))
    assert isinstance(doc, (dict, list))
