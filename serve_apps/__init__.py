"""Ray Serve deployments composed behind one FastAPI ingress."""
