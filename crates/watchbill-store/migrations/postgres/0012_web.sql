-- Sign-in for the web pages: password hashes, sessions, failed sign-ins (rate limiting),
-- kiosk links to the wall, and people's photos.
CREATE TABLE user_passwords (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE web_sessions (
    secret_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_by_user ON web_sessions (user_id);

CREATE TABLE login_failures (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX login_failures_by_login ON login_failures (login, at);

CREATE TABLE wall_links (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- A photo is served at a secret URL (`/photos/{token}`), like the calendar feeds, so that
-- the wall's kiosk screens can show faces without signing in.
CREATE TABLE user_photos (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE,
    content_type TEXT NOT NULL,
    data BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);
