"""Image definitions for ECS from ECR source artifacts."""

# The one place of the version: pyproject.toml reads it (`imagedefs --version`, template.yaml's SemanticVersion).
__version__ = "0.1.0"
