"""Kubernetes manifests: SparkApplications, the node profile installer, and the linter."""
