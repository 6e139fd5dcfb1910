"""The deployment YAML is yamllint-clean (the repository's .yamllint.yaml)."""

from __future__ import annotations

from tests.deploy.tools import FIXTURES, run, tool

FOLDERS = ("compose", "k8s", ".github")


def test_deployment_yaml_is_clean() -> None:
    done = run([tool("yamllint"), "--strict", "-f", "parsable", *FOLDERS])
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_flags_broken_yaml() -> None:
    # The config ignores the broken fixtures; the same rules are given explicitly here.
    done = run(
        [
            tool("yamllint"),
            "-d",
            "{extends: default}",
            "-f",
            "parsable",
            str(FIXTURES / "broken" / "lint.yaml"),
        ]
    )
    assert done.returncode != 0
    assert "key-duplicates" in done.stdout
    assert "trailing-spaces" in done.stdout
