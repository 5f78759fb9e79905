"""No secret leaves: a Redis password given in a source URL appears in no
output and no file hueyviz writes (one function decides: core.text.redact).

A real consumer records through a password-protected redis-server; every
command that names a source then runs against it, and everything they
print, log and write is searched for the password.
"""
import os
import subprocess
import sys
import uuid

import pytest
from livekit import RedisServer, make_app, wait_until  # noqa: F401

import hueyviz


def cli(*args, env=None, cwd=None):
    run = subprocess.run([sys.executable, "-m", "hueyviz", *args], capture_output=True,
                         text=True, timeout=120, env=env, cwd=cwd)
    return run.returncode, run.stdout + run.stderr


@pytest.fixture
def locked_redis(tmp_path):
    srv = RedisServer(tmp_path / "redis", password="hv-" + uuid.uuid4().hex).start()
    yield srv
    srv.stop()


@pytest.mark.timeout(300)
def test_a_redis_password_appears_in_no_output_and_no_file(make_app, locked_redis, tmp_path):
    pw = locked_redis.password
    app = make_app("RedisHuey", f"'app', url={locked_redis.url!r}")
    m = app.module
    c = app.consumer(1, "thread")
    result = m.main(2)                      # one worker, blocked on its subtasks: a deadlock
    url = locked_redis.url + "?queue=app"
    with hueyviz.follow(url) as f:
        assert f.wait_for(lambda tr: hueyviz.diagnose(tr).verdict == "deadlock", 30), c.output()
    out = tmp_path / "out"
    said = []
    for args, rc in [(("diagnose", url), 1), (("diagnose", url, "--json"), 1),
                     (("advise", url), None), (("whatif", url, "--workers", "1..3"), 0),
                     (("render", url, "-o", str(out), "--format", "all"), None),
                     (("record", url, "-o", str(tmp_path / "t.jsonl"), "--from-start",
                       "--duration", "0"), 0),
                     (("follow", url, "--from-start", "--duration", "0.5"), 1)]:
        got, text = cli(*args)
        assert rc is None or got == rc, (args[0], got, text)
        said.append(text)
    assert (out / "waitfor.svg").exists() and (tmp_path / "t.jsonl").exists()
    # A wrong password: one line naming the server (never its URL's secret) and why.
    wrong = url.replace(pw, "not-" + pw[3:])
    got, text = cli("diagnose", wrong)
    assert got == 2 and f"127.0.0.1:{locked_redis.port}/0" in text, text
    assert "invalid username-password pair" in text and len(text.splitlines()) == 1
    said.append(text)
    # The password out of band: a URL without it, and the variable holding it.
    bare = f"redis://127.0.0.1:{locked_redis.port}/0?queue=app"
    env = dict(os.environ, HUEYVIZ_REDIS_URL=locked_redis.url)
    got, text = cli("diagnose", bare, env=env)
    assert got == 1 and text.startswith("Deadlock"), text
    said.append(text)
    got, text = cli("diagnose", "redis://", env=dict(env, HUEYVIZ_REDIS_URL=url))
    assert got == 1, text
    said.append(text)
    for text in said:
        assert pw not in text
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "redis" not in p.parts
               and p.name != "app.py"]          # the user's own module holds it, of course
    names = {p.name for p in written}
    assert {"t.jsonl", "manifest.json", "report.html", "trace.json", "waitfor.svg",
            "lanes.svg", "animated.svg"} <= names, names
    assert any(n.startswith("consumer-") for n in names)     # the consumer's log
    for p in written:
        assert pw.encode() not in p.read_bytes(), p
    # What the notebook view is sent, and the trace's header, read from the URL.
    from hueyviz.render.viewdata import build_view_data
    tr = hueyviz.Trace.read(url)
    assert pw not in repr(tr.header) and pw not in repr(build_view_data(tr))
    c.kill()
    assert result.id
