"""The HTTP API (Starlette, served by uvicorn with uvloop and httptools, JSON through orjson)."""
