"""`release --builder sandbox`: build the image into the sandbox's blob store, no engine needed.

Registered with the product through the `releasectl.image_builders` entry point (pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Mapping

from releasectl.commands.context import Context
from releasectl.commands.image_builders import BuildRequest, Candidate


class SandboxImageBuilder:
    name = "sandbox"

    def __init__(self, ctx: Context, env: Mapping[str, str]) -> None:
        self.ctx = ctx
        self.env = env

    def build(self, request: BuildRequest) -> Candidate:
        from releasectl_sandbox.images import build_for_release

        built = build_for_release(
            request.context_dir,
            build_args={
                "APP_VERSION": request.version,
                "GIT_COMMIT": request.commit,
                "BUILD_DATE": request.build_date,
                "SOURCE_URL": request.source_url or "",
            },
            env=self.env,
        )
        self.ctx.reporter.info(f"[sandbox] built image {built.digest} from {request.context_dir}")
        return Candidate(digest=built.digest, manifest=built.manifest, media_type=built.media_type)
