"""The HTTP edge every router shares: request bodies, ids in paths, pagination, rate
limits, the declared answers in /openapi.json, and the server with its read deadline."""
