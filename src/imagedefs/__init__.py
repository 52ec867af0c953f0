"""Image definitions for ECS from ECR source artifacts."""
