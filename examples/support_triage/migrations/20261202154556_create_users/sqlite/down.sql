-- undo create_users: sqlite (applied by `bao migrate:rollback`)
DROP TABLE users;
