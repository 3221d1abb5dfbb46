-- Sign-in for people at the pages: one-time sign-in links and browser sessions, each
-- token stored only as its SHA-256 (passwords are the operators' credentials).

CREATE TABLE signin_links (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    operator bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at timestamptz
);

CREATE TABLE web_sessions (
    token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
    operator bigint NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
    csrf text NOT NULL CHECK (length(csrf) BETWEEN 16 AND 100),
    created_at timestamptz NOT NULL DEFAULT now(),
    seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
