CREATE TABLE worlds (
    id BIGSERIAL PRIMARY KEY,
    random_number INTEGER NOT NULL
);
CREATE TABLE fortunes (
    id BIGSERIAL PRIMARY KEY,
    message TEXT NOT NULL
);
