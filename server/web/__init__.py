"""Web plumbing shared by every domain's routes: request dependencies, API callers, the one
template environment, page rendering and CSRF, error mapping, ETags, middleware."""
