-- create tally marks: postgres (applied by `bao migrate`)
-- Side effects of the `tally` workflow, one row per completed step.
CREATE TABLE tally_marks (
    id BIGSERIAL PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL,
    step INTEGER NOT NULL,
    worker BIGINT NOT NULL
);
