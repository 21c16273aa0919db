-- undo create_support_tables: postgres (applied by `bao migrate:rollback`)
DROP TABLE ticket_notes;
DROP TABLE replies;
DROP TABLE tickets;
DROP TABLE organisations;
