"""A Dockerfile's instructions, and the image config its stage produces, without a Docker engine.

`parse` reads the text the way the Dockerfile frontend does (parser directives, `\\` line
continuations, comments, flags, JSON exec form or shell form). `image_config` evaluates a
single-stage Dockerfile with build args into what it sets on top of its base image: ENV, CMD,
ENTRYPOINT, WORKDIR, USER, LABELs, EXPOSE, HEALTHCHECK, STOPSIGNAL, VOLUME, and its COPY and RUN
steps. What the base image itself sets (its PATH, its CMD) is not known here and not included.

Constructs whose effect cannot be evaluated faithfully are refused with a UsageError naming the
line: more than one stage, COPY --from, ADD, ONBUILD, heredocs, a non-default escape character.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from releasectl.core.errors import UsageError
from releasectl_sandbox.dockerfile_words import expand, split_words
from releasectl_sandbox.dockerignore import go_clean

_HINT = "see https://docs.docker.com/reference/dockerfile/"
_DIRECTIVE = re.compile(r"#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_CONTINUATION = re.compile(r"\\[ \t]*$")
_HEREDOC = re.compile(r"<<-?\s*[\"']?[A-Za-z_]")
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Build args Docker accepts without an ARG line (proxies for RUN): never reported as unused.
_PREDEFINED_ARGS = {
    name
    for base in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for name in (base, base.lower())
}
_EXPANDED = {"ENV", "ARG", "LABEL", "COPY", "WORKDIR", "USER", "EXPOSE", "VOLUME", "STOPSIGNAL", "FROM"}
_FLAGS = {
    "FROM": {"platform"},
    "COPY": {"chown", "chmod", "link"},
    "RUN": {"mount", "network", "security"},
    "HEALTHCHECK": {"interval", "timeout", "start-period", "start-interval", "retries"},
}


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    value: str  # the text after the keyword and its flags, continuation lines joined
    line: int  # 1-based line the instruction starts on
    flags: tuple[tuple[str, str | None], ...] = ()
    exec_form: tuple[str, ...] | None = None  # the JSON array form, when the value is one

    def flag(self, name: str) -> str | None:
        return next((value or "" for key, value in self.flags if key == name), None)


@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]  # Docker's and ECS's form: ("CMD", argv...), ("CMD-SHELL", cmd) or ("NONE",)
    interval_s: float = 30.0
    timeout_s: float = 30.0
    start_period_s: float = 0.0
    start_interval_s: float = 5.0
    retries: int = 3


@dataclass(frozen=True)
class CopyStep:
    sources: tuple[str, ...]  # relative to the build context
    dest: str  # absolute; a trailing "/" means "into this directory"
    line: int
    chown: str | None = None
    chmod: str | None = None


@dataclass
class ImageConfig:
    """What the Dockerfile sets on top of its base image. None: not set here (inherited)."""

    base_image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None
    entrypoint: list[str] | None = None
    workdir: str = "/"  # relative WORKDIRs resolve against "/" (the base's own WORKDIR is unknown here)
    user: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: list[str] = field(default_factory=list)  # "8080/tcp"
    healthcheck: Healthcheck | None = None
    stop_signal: str | None = None
    volumes: list[str] = field(default_factory=list)
    copies: list[CopyStep] = field(default_factory=list)
    runs: list[list[str]] = field(default_factory=list)
    args: dict[str, str] = field(default_factory=dict)  # ARG values in effect at the end
    unused_build_args: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        """What the container runs: ENTRYPOINT followed by CMD."""
        return [*(self.entrypoint or []), *(self.cmd or [])]


def _fail(line: int, problem: str) -> UsageError:
    return UsageError(f"Dockerfile line {line}: {problem}", hint=_HINT)


def parse(text: str) -> list[Instruction]:
    """The instructions in order. Comments and blank lines, also inside continuations, are dropped."""
    lines = [raw.removesuffix("\r") for raw in text.removeprefix("\ufeff").split("\n")]
    for number, line in enumerate(lines, start=1):
        directive = _DIRECTIVE.match(line)
        if not directive:
            break  # parser directives are only recognised before anything else
        if directive.group(1).lower() == "escape" and directive.group(2) != "\\":
            raise _fail(number, f"escape={directive.group(2)} is not supported; only the default \\ is")
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start, line = number, line.lstrip()
        if _CONTINUATION.search(line):
            pending.append(_CONTINUATION.sub("", line))
            continue
        pending.append(line)
        instructions.append(_instruction("".join(pending), start))
        pending = []
    if "".join(pending).strip():
        instructions.append(_instruction("".join(pending), start))
    return instructions


def _split_first(text: str) -> tuple[str, str]:
    """The first whitespace-separated word and the rest, both stripped."""
    parts = text.split(maxsplit=1)
    return (parts[0] if parts else ""), (parts[1].strip() if len(parts) > 1 else "")


def _instruction(text: str, line: int) -> Instruction:
    keyword, rest = _split_first(text)
    flags: list[tuple[str, str | None]] = []
    while rest.startswith("--"):
        word, rest = _split_first(rest)
        name, eq, value = word[2:].partition("=")
        flags.append((name.lower(), value if eq else None))
    exec_form = None
    if rest.startswith("["):
        try:
            loaded = json.loads(rest)
        except ValueError:
            loaded = None
        if isinstance(loaded, list) and all(isinstance(item, str) for item in loaded):
            exec_form = tuple(loaded)
    return Instruction(keyword.upper(), rest, line, tuple(flags), exec_form)


def _duration(value: str, line: int) -> float:
    """Seconds in a Go duration such as 30s, 1m30s or 500ms."""
    if value == "0":
        return 0.0
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise _fail(line, f"{value!r} is not a duration such as 30s, 1m30s or 500ms")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


def _ports(words: list[str], line: int) -> list[str]:
    ports: list[str] = []
    for word in words:
        spec, _, proto = word.partition("/")
        low, _, high = spec.partition("-")
        proto = (proto or "tcp").lower()
        if not (low.isdigit() and (high or low).isdigit() and proto in ("tcp", "udp", "sctp")):
            raise _fail(line, f"EXPOSE {word!r} is not PORT, PORT/tcp|udp|sctp or a range LOW-HIGH")
        first, last = int(low), int(high or low)
        if not 0 < first <= last <= 65535:
            raise _fail(line, f"EXPOSE {word!r} is outside 1-65535")
        ports.extend(f"{port}/{proto}" for port in range(first, last + 1) if f"{port}/{proto}" not in ports)
    return ports


class _Stage:
    """Evaluation state: the config so far plus the variables visible to expansion."""

    def __init__(self, build_args: Mapping[str, str]) -> None:
        self.build_args = build_args
        self.config = ImageConfig()
        self.global_args: dict[str, str | None] = {}
        self.declared: set[str] = set()
        self.shell = ["/bin/sh", "-c"]
        self.cmd_set = False
        self.in_stage = False

    def lookup(self, name: str) -> str | None:
        """ENV wins over an ARG of the same name, as in Docker."""
        if not self.in_stage:
            return self.global_args.get(name)
        return self.config.env[name] if name in self.config.env else self.config.args.get(name)

    def pairs(self, ins: Instruction, expand_word: Callable[[str], str]) -> list[tuple[str, str]]:
        """ENV and LABEL: `k=v ...`, or the legacy `k value with spaces`."""
        words = split_words(ins.value)
        if not words:
            raise _fail(ins.line, f"{ins.keyword} needs at least one name=value")
        if "=" not in words[0]:
            name, value = _split_first(ins.value)
            if not value:
                raise _fail(ins.line, f"{ins.keyword} {name} needs a value")
            return [(expand_word(name), expand_word(value))]
        for word in words:
            if "=" not in word:
                raise _fail(ins.line, f"{ins.keyword}: {word!r} is not name=value")
        return [
            (expand_word(name), expand_word(value)) for name, _, value in (w.partition("=") for w in words)
        ]

    def argv(self, ins: Instruction) -> list[str]:
        """Exec form as written; shell form wrapped in the current SHELL."""
        return list(ins.exec_form) if ins.exec_form is not None else [*self.shell, ins.value]

    def apply(self, ins: Instruction) -> None:
        if not ins.value:
            raise _fail(ins.line, f"{ins.keyword} needs an argument")
        unknown = {name for name, _ in ins.flags} - _FLAGS.get(ins.keyword, set())
        if unknown:
            raise _fail(ins.line, f"{ins.keyword} --{sorted(unknown)[0]} is not supported here")

        def word(text: str) -> str:
            return expand(text, self.lookup, where=f"Dockerfile line {ins.line}")

        def words() -> list[str]:
            raw = list(ins.exec_form) if ins.exec_form is not None else split_words(ins.value)
            return [word(item) for item in raw] if ins.keyword in _EXPANDED else raw

        config, key = self.config, ins.keyword
        if key in ("RUN", "COPY", "ADD") and ins.exec_form is None and _HEREDOC.search(ins.value):
            raise _fail(ins.line, f"heredocs in {key} are not supported")
        if key == "ARG":
            for item in split_words(ins.value):
                name, eq, default = item.partition("=")
                if not name:
                    raise _fail(ins.line, f"ARG {item!r} has no name")
                value = self.build_args.get(name)
                if value is None:
                    value = word(default) if eq else self.global_args.get(name)
                self.declared.add(name)
                if not self.in_stage:
                    self.global_args[name] = value
                elif value is not None:
                    config.args[name] = value
            return
        if key == "FROM":
            if self.in_stage:
                raise _fail(ins.line, "multi-stage Dockerfiles are not supported (a second FROM)")
            config.base_image = word(split_words(ins.value)[0])
            self.in_stage = True
            return
        if not self.in_stage:
            raise _fail(ins.line, f"{key} before FROM (only ARG may come first)")
        if key == "ENV":
            config.env.update(self.pairs(ins, word))
        elif key == "LABEL":
            config.labels.update(self.pairs(ins, word))
        elif key == "WORKDIR":
            config.workdir = go_clean(posixpath.join(config.workdir, word(ins.value)))
        elif key == "USER":
            config.user = word(ins.value)
        elif key == "EXPOSE":
            config.exposed_ports += [p for p in _ports(words(), ins.line) if p not in config.exposed_ports]
        elif key == "VOLUME":
            config.volumes += words()
        elif key == "STOPSIGNAL":
            config.stop_signal = word(ins.value)
        elif key == "SHELL":
            if ins.exec_form is None or not ins.exec_form:
                raise _fail(ins.line, 'SHELL must be a JSON array such as ["/bin/bash", "-c"]')
            self.shell = list(ins.exec_form)
        elif key == "CMD":
            config.cmd, self.cmd_set = self.argv(ins), True
        elif key == "ENTRYPOINT":
            config.entrypoint = self.argv(ins)
            if not self.cmd_set:
                config.cmd = []  # Docker drops a CMD inherited from the base when ENTRYPOINT is set
        elif key == "RUN":
            config.runs.append(self.argv(ins))
        elif key == "HEALTHCHECK":
            config.healthcheck = self.healthcheck(ins)
        elif key == "COPY":
            chown = ins.flag("chown")
            config.copies.append(self.copy(ins, words(), None if chown is None else word(chown)))
        elif key in ("ADD", "ONBUILD", "MAINTAINER"):
            raise _fail(ins.line, f"{key} is not supported; use COPY and LABEL")
        else:
            raise _fail(ins.line, f"unknown instruction {key}")

    def healthcheck(self, ins: Instruction) -> Healthcheck:
        kind, rest = _split_first(ins.value)
        if kind.upper() == "NONE" and not rest:
            return Healthcheck(test=("NONE",))
        if kind.upper() != "CMD" or not rest:
            raise _fail(ins.line, "HEALTHCHECK must be NONE or [OPTIONS] CMD command")
        nested = _instruction(f"CMD {rest}", ins.line)
        test = ("CMD", *nested.exec_form) if nested.exec_form is not None else ("CMD-SHELL", nested.value)
        options = {name: value or "" for name, value in ins.flags}
        retries = options.get("retries", "3")
        if not retries.isdigit():
            raise _fail(ins.line, f"HEALTHCHECK --retries={retries} is not a whole number")
        seconds = {name: _duration(options[name], ins.line) for name in options if name != "retries"}
        return Healthcheck(
            test=test,
            interval_s=seconds.get("interval", 30.0),
            timeout_s=seconds.get("timeout", 30.0),
            start_period_s=seconds.get("start-period", 0.0),
            start_interval_s=seconds.get("start-interval", 5.0),
            retries=int(retries),
        )

    def copy(self, ins: Instruction, args: list[str], chown: str | None) -> CopyStep:
        if len(args) < 2:
            raise _fail(ins.line, "COPY needs at least one source and a destination")
        *sources, dest = args
        if len(sources) > 1 and not dest.endswith("/"):
            raise _fail(ins.line, "COPY with several sources needs a destination directory ending in /")
        resolved = go_clean(posixpath.join(self.config.workdir, dest))
        if dest.endswith("/") and resolved != "/":
            resolved += "/"
        return CopyStep(tuple(sources), resolved, ins.line, chown, ins.flag("chmod"))


def image_config(text: str, build_args: Mapping[str, str] | None = None) -> ImageConfig:
    """Evaluate a single-stage Dockerfile with `--build-arg` values into its image config."""
    stage = _Stage(build_args or {})
    for instruction in parse(text):
        stage.apply(instruction)
    if not stage.in_stage:
        raise UsageError("Dockerfile has no FROM instruction", hint=_HINT)
    stage.config.unused_build_args = sorted(set(stage.build_args) - stage.declared - _PREDEFINED_ARGS)
    return stage.config
