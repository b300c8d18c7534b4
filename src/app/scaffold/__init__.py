"""Code generation for the project itself (`forge feature new`): developer tooling, no part of the running service."""

from app.scaffold._generate import INVENTORY_MARKER, ROUTERS_MARKER, new_feature
from app.scaffold._names import FeatureNames, ScaffoldError, feature_names

__all__ = ["INVENTORY_MARKER", "ROUTERS_MARKER", "FeatureNames", "ScaffoldError", "feature_names", "new_feature"]
