"""The Dockerfile emulation substitutes build arguments where, and as, Docker does
(tests/deploy/dockerfile.py): the image tests are only as good as this."""

from __future__ import annotations

import pytest

from tests.deploy.dockerfile import BuildError, Stage, expand_word, parse_text

DOCKERFILE = """\
ARG BASE=python:3.13-slim
ARG TAG
FROM ${BASE} AS first
ARG NAME=default-name
ARG TAG
ARG UNSET
ENV ${NAME}_HOME=/opt/${NAME} GREETING="hello ${NAME}" ESCAPED=\\$NAME QUOTED='${NAME}'
ENV NAME=from-env
COPY --chown=${NAME} src/${NAME} /dst/${TAG:-untagged}/
EXPOSE ${PORT:-80}
RUN --mount=type=bind,source=${NAME},target=/m echo "$NAME ${TAG}"
HEALTHCHECK CMD ["check", "${NAME}"]
CMD ["run", "$NAME"]

FROM first AS second
RUN echo "${NAME}"
ARG NAME
"""


def evaluate(args: dict[str, str] | None = None) -> list[Stage]:
    return parse_text(DOCKERFILE).evaluate(args, image_env={"PATH": "/usr/bin"})


def test_defaults_apply_when_no_build_argument_is_given() -> None:
    first, _ = evaluate()
    assert first.base == "python:3.13-slim"
    assert first.env["default-name_HOME"] == "/opt/default-name"
    assert first.env["GREETING"] == "hello default-name"


def test_build_arguments_override_defaults_and_reach_from_lines() -> None:
    first, _ = evaluate({"BASE": "debian:12", "NAME": "svc", "TAG": "v1"})
    assert first.base == "debian:12"
    assert first.env["svc_HOME"] == "/opt/svc"  # a substituted ENV name
    copy = first.last("COPY")
    assert copy is not None
    assert copy.rest == "src/from-env /dst/v1/"  # ENV wins over the ARG of the same name
    assert copy.flag("chown") == "from-env"


def test_a_global_argument_reaches_a_stage_only_through_its_own_arg() -> None:
    first, _ = evaluate({"TAG": "v2"})
    run = first.last("RUN")
    assert run is not None
    assert run.env["TAG"] == "v2"
    assert "UNSET" not in run.env, "an ARG without value or default stays unset"
    copy = first.last("COPY")
    assert copy is not None
    assert copy.rest.endswith("/dst/v2/")
    first, _ = evaluate()
    copy = first.last("COPY")
    assert copy is not None
    assert copy.rest.endswith("/dst/untagged/")


def test_exec_forms_and_run_commands_are_left_to_run_time() -> None:
    first, _ = evaluate({"NAME": "svc"})
    run = first.last("RUN")
    cmd = first.last("CMD")
    healthcheck = first.last("HEALTHCHECK")
    assert run is not None
    assert cmd is not None
    assert healthcheck is not None
    # A RUN's flags are substituted; its command is the shell's to expand, with run.env.
    assert run.mounts() == [{"type": "bind", "source": "from-env", "target": "/m"}]
    assert run.rest == 'echo "$NAME ${TAG}"'
    assert run.env["NAME"] == "from-env"
    assert cmd.exec_form() == ["run", "$NAME"]
    assert healthcheck.exec_form() == ["check", "${NAME}"]


def test_quotes_and_escapes() -> None:
    first, _ = evaluate()
    assert first.env["ESCAPED"] == "$NAME"
    assert first.env["QUOTED"] == "${NAME}"  # single quotes: no substitution
    expose = first.last("EXPOSE")
    assert expose is not None
    assert expose.rest == "80"


def test_a_stage_built_on_another_inherits_its_env_not_its_args() -> None:
    first, second = evaluate({"NAME": "svc"})
    assert second.base == "first"
    assert second.env == first.env
    run = second.last("RUN")
    assert run is not None
    assert run.env["NAME"] == "from-env"  # ENV, inherited
    assert "TAG" not in run.env, "ARGs end with their stage"


def test_modifiers() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert expand_word("${SET:-d}${EMPTY:-d}${EMPTY-d}${NONE-d}", env) == "xdd"
    assert expand_word("${SET:+y}${EMPTY:+y}${EMPTY+y}${NONE+y}", env) == "yy"
    assert expand_word("${NONE:-${SET}}", env) == "x"
    with pytest.raises(BuildError, match="NONE: set it"):
        expand_word("${NONE:?set it}", env)
    with pytest.raises(BuildError, match="EMPTY: is not allowed"):
        expand_word("${EMPTY:?}", env)
    with pytest.raises(BuildError, match="not emulated"):
        expand_word("${SET%x}", env)


def test_an_undeclared_build_argument_is_an_error() -> None:
    with pytest.raises(BuildError, match="no ARG declares: NAEM"):
        evaluate({"NAEM": "typo"})


def test_a_blank_base_is_an_error() -> None:
    with pytest.raises(BuildError, match="should not be blank"):
        parse_text("ARG BASE\nFROM ${BASE}\n").evaluate()
