"""releasectl: versioned, truthful releases of a container service to ECR and ECS."""

__version__ = "0.1.0"
