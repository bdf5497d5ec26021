"""A fake `docker` executable for tests: records every call and plays buildx.

install(bin_dir, state_dir) writes an executable `docker` into bin_dir; put bin_dir
first on PATH and the code under test runs it like the real one. Each call is
appended to <state_dir>/calls.jsonl as {"argv": [...], "stdin": "..."}.

Supported: `info`, `buildx version|inspect|create|build`, `login --password-stdin`.
`buildx build` prints plain progress, writes the --metadata-file JSON with a
`containerimage.digest` (sha256 of a Docker v2 manifest derived from the build's
arguments and context files) and, when it is asked to push (`--push` with `--tag`,
or `--output type=image,name=...,push=true[,push-by-digest=true]`) and
FAKE_DOCKER_ECR_ENDPOINT (or AWS_ENDPOINT_URL) is set, puts that manifest into the
ECR at that endpoint with put_image, tagged or by digest only, as a real push would.

Behaviour switches (environment variables):
  FAKE_DOCKER_DAEMON=down     `docker info` fails as with no daemon
  FAKE_DOCKER_BUILDX=missing  `docker buildx ...` is not a docker command
  FAKE_DOCKER_BUILD_EXIT=N    `buildx build` fails with exit N
  FAKE_DOCKER_LOGIN_EXIT=N    `login` fails with exit N, echoing what it was sent
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

STATE_VAR = "FAKE_DOCKER_STATE"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def install(bin_dir: Path, state_dir: Path) -> Path:
    """Write `docker` into bin_dir, recording into state_dir; returns the executable's path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    target = bin_dir / "docker"
    # Imported rather than run as a script, so each call loads the compiled module instead of
    # compiling this file again; -S: it needs nothing beyond the standard library (the calls
    # number in the hundreds a suite; each is about 4 ms faster).
    entry = (
        "import sys; sys.path[:0] = [sys.argv.pop(1)]; import fake_docker; "
        "sys.exit(fake_docker.main(sys.argv[1:]))"
    )
    target.write_text(
        f"#!/bin/sh\n{STATE_VAR}='{state_dir}' exec '{sys.executable}' -S -c '{entry}' "
        f"'{Path(__file__).resolve().parent}' \"$@\"\n",
        encoding="utf-8",
    )
    target.chmod(0o755)
    return target


def calls(state_dir: Path) -> list[dict[str, object]]:
    record = state_dir / "calls.jsonl"
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines() if line]


def _state() -> Path:
    return Path(os.environ[STATE_VAR])


def _record(argv: list[str], stdin: str | None) -> None:
    with (_state() / "calls.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"argv": argv, "stdin": stdin}) + "\n")


def _builders() -> list[str]:
    path = _state() / "builders.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args and args.index(name) + 1 < len(args) else None


def _options(args: list[str], name: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == name]


def _context_hash(context: Path) -> str:
    digest = hashlib.sha256()
    if context.is_dir():
        for path in sorted(p for p in context.rglob("*") if p.is_file() and ".git" not in p.parts):
            digest.update(str(path.relative_to(context)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _manifest(args: list[str]) -> bytes:
    config = json.dumps(
        {"build_args": _options(args, "--build-arg"), "labels": _options(args, "--label")}, sort_keys=True
    ).encode()
    layer = _context_hash(Path(args[-1])).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
            }
        ],
    }
    return json.dumps(manifest, indent=3).encode()


def _push_target(args: list[str]) -> tuple[str, str | None] | None:
    """(repository URI, tag or None for by-digest) when the build pushes, else None."""
    output = _option(args, "--output")
    if output:
        params = dict(item.split("=", 1) for item in output.split(",") if "=" in item)
        if params.get("type") not in {"image", "registry"} or (
            params.get("type") == "image" and params.get("push") != "true"
        ):
            return None
        name = params.get("name", "")
        if params.get("push-by-digest") == "true":
            return name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name, None
        repo, _, tag = name.rpartition(":")
        return repo, tag or "latest"
    tag_ref = _option(args, "--tag")
    if "--push" in args and tag_ref:
        repo, _, tag = tag_ref.rpartition(":")
        return repo, tag
    return None


def _ecr(
    endpoint: str, region: str, operation: str, params: dict[str, object]
) -> tuple[str, dict[str, object]]:
    """One ECR API call as JSON over HTTP: (error code or "", answer). moto checks no signature,
    so a push needs no boto3, whose import costs each fake push ~0.2 s of CPU."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        endpoint,
        data=json.dumps(params).encode(),
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AmazonEC2ContainerRegistry_V20150921.{operation}",
            # The credential scope tells moto the region.
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{region}/ecr/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return "", json.loads(answer.read() or b"{}")
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
        code = str(body.get("__type", error.code)).rsplit("#", 1)[-1]
        if code not in {"ImageAlreadyExistsException", "RepositoryNotFoundException"}:
            raise RuntimeError(f"{operation}: {code}: {body.get('message', '')}") from None
        return code, body


def _push(repository_uri: str, tag: str | None, manifest: bytes, digest: str) -> str | None:
    """put_image to the ECR endpoint, if there is one; returns an error line or None."""
    endpoint = os.environ.get("FAKE_DOCKER_ECR_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return None
    registry, _, name = repository_uri.partition("/")
    tag_ref = f"{repository_uri}:{tag}" if tag else f"{repository_uri}@{digest}"
    region = registry.split(".")[3] if ".dkr.ecr." in registry else os.environ.get("AWS_REGION", "us-east-1")
    missing = (
        f"ERROR: failed to push {tag_ref}: name unknown: The repository with name '{name}' does not exist"
    )
    error, _ = _ecr(endpoint, region, "DescribeRepositories", {"repositoryNames": [name]})
    if error == "RepositoryNotFoundException":
        return missing
    put: dict[str, object] = {
        "repositoryName": name,
        "imageManifest": manifest.decode(),
        "imageManifestMediaType": MANIFEST_TYPE,
        "imageDigest": digest,
        **({"imageTag": tag} if tag else {}),
    }
    error, _ = _ecr(endpoint, region, "PutImage", put)
    if error == "RepositoryNotFoundException":
        return missing
    if error == "ImageAlreadyExistsException" and tag:
        _, found = _ecr(
            endpoint, region, "DescribeImages", {"repositoryName": name, "imageIds": [{"imageTag": tag}]}
        )
        existing = found.get("imageDetails") or []
        if not existing or existing[0]["imageDigest"] != digest:  # type: ignore[index]
            return f"ERROR: failed to push {tag_ref}: tag invalid: the image tag '{tag}' already exists"
    return None


def _build(args: list[str]) -> int:
    err = sys.stderr
    builder = _option(args, "--builder") or "default"
    err.write(f'#0 building with "{builder}" instance using docker-container driver\n\n')
    err.write("#1 [internal] load build definition from Dockerfile\n#1 DONE 0.0s\n\n")
    err.write("#2 [internal] load .dockerignore\n#2 DONE 0.0s\n\n")
    exit_code = int(os.environ.get("FAKE_DOCKER_BUILD_EXIT", "0") or 0)
    if exit_code:
        err.write('#3 [2/3] RUN false\n#3 ERROR: process "/bin/sh -c false" did not complete successfully\n')
        err.write("ERROR: failed to solve: exit code: 1\n")
        return exit_code
    manifest = _manifest(args)
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    target = _push_target(args)
    err.write("#3 [2/3] COPY service/ /app/service/\n#3 DONE 0.1s\n\n#4 exporting to image\n")
    if target is not None:
        repository_uri, tag = target
        problem = _push(repository_uri, tag, manifest, digest)
        if problem:
            err.write(problem + "\n")
            return 1
        shown = f"{repository_uri}:{tag}" if tag else repository_uri
        err.write(f"#4 pushing manifest for {shown}@{digest} 0.1s done\n")
    err.write("#4 DONE 0.2s\n")
    metadata = _option(args, "--metadata-file")
    if metadata:
        Path(metadata).write_text(
            json.dumps(
                {
                    "buildx.build.ref": f"{builder}/{builder}0/fake",
                    "containerimage.descriptor": {
                        "mediaType": MANIFEST_TYPE,
                        "digest": digest,
                        "size": len(manifest),
                    },
                    "containerimage.digest": digest,
                    "image.name": target[0] if target else "",
                }
            ),
            encoding="utf-8",
        )
    return 0


def _buildx(args: list[str]) -> int:
    if os.environ.get("FAKE_DOCKER_BUILDX") == "missing":
        sys.stderr.write("docker: 'buildx' is not a docker command.\n")
        return 1
    sub = args[0] if args else ""
    if sub == "version":
        print("github.com/docker/buildx v0.0.0-fake")
        return 0
    if sub == "inspect":
        name = args[1] if len(args) > 1 else "default"
        if name in _builders():
            print(f"Name:   {name}\nDriver: docker-container")
            return 0
        sys.stderr.write(f'ERROR: no builder "{name}" found\n')
        return 1
    if sub == "create":
        name = _option(args, "--name") or "builder"
        (_state() / "builders.json").write_text(json.dumps([*_builders(), name]), encoding="utf-8")
        print(name)
        return 0
    if sub == "build":
        return _build(args[1:])
    sys.stderr.write(f"fake docker: unsupported buildx command {args}\n")
    return 2


def main(argv: list[str]) -> int:
    stdin = sys.stdin.read() if "--password-stdin" in argv else None
    _record(argv, stdin)
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "info":
        if os.environ.get("FAKE_DOCKER_DAEMON") == "down":
            sys.stderr.write(
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. "
                "Is the docker daemon running?\n"
            )
            return 1
        print("27.0.0-fake")
        return 0
    if command == "buildx":
        return _buildx(rest)
    if command == "login":
        exit_code = int(os.environ.get("FAKE_DOCKER_LOGIN_EXIT", "0") or 0)
        if exit_code:
            sys.stderr.write(
                f"Error response from daemon: login with password {stdin!r} denied: 401 Unauthorized\n"
            )
            return exit_code
        print("Login Succeeded")
        return 0
    sys.stderr.write(f"fake docker: unsupported command {argv}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
