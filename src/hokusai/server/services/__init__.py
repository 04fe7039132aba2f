"""Business logic of the API core (keys, principals, nonces, audit): plain functions, no FastAPI."""
