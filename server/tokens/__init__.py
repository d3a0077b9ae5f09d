"""API tokens: bearer secrets with scopes, for programs calling /api/v1."""
