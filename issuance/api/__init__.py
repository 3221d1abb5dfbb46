"""The HTTP API: FastAPI (OpenAPI generated from the routes), served by uvicorn, JSON via orjson.

``app`` builds the application; ``counter``, ``batches``, ``operators`` and
``dispatch`` (the outlet agent's routes) hold the routes;
``deps`` authenticates the bearer token; ``idempotency`` replays retried
writes; ``schemas`` and ``views`` are the request and response bodies;
``responses`` maps errors to status codes and bodies.
"""
