"""The embedded local AWS (docs/design.md §8): moto's server plus simulators for CodeBuild, ECS and an ALB.

Import the parts you need (releasectl_sandbox.sandbox.Sandbox, .images.build_image ...);
this package imports nothing heavy by itself.
"""
