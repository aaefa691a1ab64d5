-- autoqueue schema (the one definition; shipped inside the package as autoqueue/schema.sql).
--
-- Every timestamp is UTC text in SQLite's own 'YYYY-MM-DD HH:MM:SS' form, so that comparing it
-- with CURRENT_TIMESTAMP or datetime('now') as a string is correct.
-- The tables of the earlier app keep their names and columns, so that its databases are upgraded
-- in place (README "Data"); columns autoqueue added carry a comment saying which behaviour needs
-- them.

CREATE TABLE IF NOT EXISTS contents (
  id TEXT PRIMARY KEY,                       -- UUID
  user_id TEXT,
  type TEXT NOT NULL CHECK(type IN ('script', 'video')),
  format TEXT,                               -- the task type: shortform | longform | product
  title TEXT,
  content TEXT,                              -- the script (story.json text)
  status TEXT NOT NULL DEFAULT 'completed' CHECK(status IN ('processing', 'completed', 'failed')),
  progress INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  task_id TEXT REFERENCES tasks(id) ON DELETE SET NULL,
  video_path TEXT,                           -- relative to the home directory, '/' separated
  thumbnail_path TEXT,
  published INTEGER NOT NULL DEFAULT 0,
  youtube_url TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  -- schema 8: the SHA-256 of the video file that was published (README "YouTube never twice":
  -- the uploader never sends a file its task already published)
  video_sha256 TEXT
);

CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,                       -- UUID
  title TEXT NOT NULL,
  type TEXT NOT NULL CHECK(type IN ('shortform', 'longform', 'product')),
  user_id TEXT,
  product_info TEXT,                         -- JSON
  settings TEXT,                             -- JSON: { mediaMode, format, ... }
  youtube_url TEXT,
  last_error TEXT,
  content_id TEXT REFERENCES contents(id) ON DELETE SET NULL,  -- the current run's content
  max_retry INTEGER,                         -- schema 6: this task's `add --max-retry` (NULL: the config's)
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  -- schema 8: when its last run finished (its youtube item completed), kept here because
  -- cleanup deletes completed queue rows and a finished task must stay finished
  last_run_at DATETIME
);

CREATE TABLE IF NOT EXISTS task_schedules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  scheduled_time DATETIME,                   -- NULL = run immediately
  repeat_type TEXT CHECK(repeat_type IN ('once', 'daily', 'weekly', 'monthly')),
  repeat_config TEXT,                        -- JSON: {"tz": IANA zone, "anchor": local wall-clock time}
  next_run_at DATETIME,                      -- the next occurrence not yet enqueued
  is_active INTEGER DEFAULT 1,
  channel_setting_id TEXT,
  youtube_privacy TEXT DEFAULT 'public',
  youtube_publish_time DATETIME,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS task_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  schedule_id INTEGER REFERENCES task_schedules(id),
  queue_type TEXT NOT NULL CHECK(queue_type IN ('schedule', 'script', 'image', 'video', 'youtube')),
  status TEXT NOT NULL CHECK(status IN ('waiting', 'processing', 'completed', 'failed')),
  retry_count INTEGER DEFAULT 0,
  max_retry INTEGER DEFAULT 3,
  next_retry_at DATETIME,
  error_message TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at DATETIME,
  -- crash recovery: who claimed the item, with which token, and until when the claim holds
  occurrence_at DATETIME,                    -- schedule items: the occurrence they were enqueued for
  claim_token TEXT,
  owner_host TEXT,
  owner_pid INTEGER,
  owner_started REAL,                        -- the owner's process start time (pid reuse guard)
  lease_expires_at DATETIME,
  -- the stage program the item started (stop and recovery kill exactly this tree)
  stage_pid INTEGER,
  stage_started REAL,
  stage_process_name TEXT,
  -- schema 5: the attempt running the stage (README "Exactly once"): its secret token, carried in
  -- the environment of every process it starts; how many attempts were started; how many in a
  -- row vanished without recording an exit (the crash budget); how many bytes of its output
  -- file are already in task_logs
  attempt_token TEXT,
  attempt_no INTEGER NOT NULL DEFAULT 0,
  crash_count INTEGER NOT NULL DEFAULT 0,
  output_offset INTEGER NOT NULL DEFAULT 0,
  -- schema 6: which of its queue type's slots (0 .. concurrency - 1) a processing item holds
  -- (0 unless a higher concurrency is configured, also for rows other programs mark processing)
  slot INTEGER NOT NULL DEFAULT 0,
  -- schema 8: when a later run of the task started; a failed item of a replaced run never runs
  -- again (its files were archived, and running it would publish the newer video twice)
  superseded_at DATETIME,
  -- schema 9: since when the item waits for a person's review ([review] before): no worker
  -- claims it until `approve` clears this; `reject` fails it and keeps this, so that it never
  -- runs again
  review_since DATETIME
);

CREATE TABLE IF NOT EXISTS task_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  queue_id INTEGER REFERENCES task_queue(id) ON DELETE SET NULL,
  level TEXT CHECK(level IN ('info', 'warn', 'error')),
  message TEXT NOT NULL,
  action_type TEXT CHECK(action_type IN ('start', 'progress', 'complete', 'fail', 'retry', 'stop', 'skip', 'pause', 'resume')),
  queue_type TEXT CHECK(queue_type IN ('schedule', 'script', 'image', 'video', 'youtube')),
  pid INTEGER,
  process_name TEXT,
  metadata TEXT,                             -- JSON
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE IF NOT EXISTS scheduler_lock (
  lock_name TEXT PRIMARY KEY,
  locked_at DATETIME,
  locked_by TEXT,                            -- 'host:pid'
  expires_at DATETIME,
  owner_started REAL                         -- the owner's process start time (pid reuse guard)
);

-- The earlier app's indexes, but for two that serve no query idx_task_queue_claim does not:
-- idx_task_queue_status (queue_type, status) is a prefix of it (schema 3 drops it), and
-- idx_task_queue_retry (status, next_retry_at) holds what it holds in another order: every
-- lookup by status names the five queue types (queue_type IN (...)), which the claim index
-- answers with five seeks (schema 4 drops it). Each index is one more B-tree to write on every
-- claim, completion and log row.
CREATE INDEX IF NOT EXISTS idx_task_queue_task_id ON task_queue(task_id);
-- A task's log is read newest first (ORDER BY id, which every index carries as its rowid), then
-- filtered by level, stage or action over that task's own rows: one index on task_id serves all
-- of it. The (task_id, action_type) and (task_id, queue_type) indexes of schemas 1 to 3 were two
-- more B-trees written with every log row for no query's benefit (schema 4 drops them).
CREATE INDEX IF NOT EXISTS idx_task_logs_task_id ON task_logs(task_id);

-- The dequeue walks this index in ORDER BY created_at, id order and reads next_retry_at and
-- review_since from it, so a claim never sorts the backlog nor visits the table for rows it skips.
CREATE INDEX IF NOT EXISTS idx_task_queue_claim
  ON task_queue(queue_type, status, created_at, id, next_retry_at, review_since);

-- Invariant 1: at most `concurrency` processing items per queue type (1 unless autoqueue.toml
-- raises it), whatever process or host claims them: each holds one of its type's slots.
CREATE UNIQUE INDEX IF NOT EXISTS idx_task_queue_slot
  ON task_queue(queue_type, slot) WHERE status = 'processing';

-- Invariant 4: a schedule occurrence is enqueued once.
CREATE UNIQUE INDEX IF NOT EXISTS idx_task_queue_occurrence
  ON task_queue(schedule_id, occurrence_at) WHERE queue_type = 'schedule';

-- Only completed rows: claims and failures never touch it (cleanup and the completed tab use it).
CREATE INDEX IF NOT EXISTS idx_task_queue_completed ON task_queue(completed_at)
  WHERE status = 'completed';
CREATE INDEX IF NOT EXISTS idx_task_schedules_due ON task_schedules(is_active, next_run_at);
CREATE INDEX IF NOT EXISTS idx_task_schedules_task_id ON task_schedules(task_id);
-- Deleting a queue row (cleanup) sets task_logs.queue_id to NULL; without this index each
-- deleted row would scan the whole log.
CREATE INDEX IF NOT EXISTS idx_task_logs_queue_id ON task_logs(queue_id);
CREATE INDEX IF NOT EXISTS idx_contents_task_id ON contents(task_id);

-- Schema 2. A stage's own resumable state, kept across crashes and retries of one queue item
-- (the youtube stage: the upload session URI, the confirmed offset, the video id once known).
CREATE TABLE IF NOT EXISTS stage_state (
  queue_id INTEGER PRIMARY KEY REFERENCES task_queue(id) ON DELETE CASCADE,
  data TEXT NOT NULL,                        -- JSON
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

-- YouTube Data API units spent per quota day (midnight to midnight, Pacific time) and project.
CREATE TABLE IF NOT EXISTS youtube_quota (
  day TEXT NOT NULL,                         -- YYYY-MM-DD in America/Los_Angeles
  project TEXT NOT NULL,
  units INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (day, project)
);

-- Schema 6. Facts about the database itself: which home it belongs to (home_id, matched by the
-- home's autoqueue.id file, so that a worker never runs one home's stages against another's
-- database).
CREATE TABLE IF NOT EXISTS autoqueue_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- Schema 10. Notifications (docs/notifications.md): one row per event, written in the same
-- transaction as what it tells of (an item failed for good, a run published, an item parked for
-- the YouTube quota or an AI spend cap; the daily digest by the leader), then claimed by one
-- process and sent after the commit. event_key is unique: an event is recorded once, whoever
-- records it, and a row claimed for sending is never sent again (at most once).
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_key TEXT NOT NULL UNIQUE,            -- KIND:LOG_ROW_ID for a task's event, digest:YYYY-MM-DD
  kind TEXT NOT NULL CHECK(kind IN ('failed', 'published', 'parked', 'review', 'digest')),
  task_id TEXT,                              -- none for the digest (delete removes a task's rows)
  queue_id INTEGER,                          -- the item it is about
  payload TEXT NOT NULL,                     -- JSON: what the message says (title, error, URL)
  status TEXT NOT NULL DEFAULT 'pending'
    CHECK(status IN ('pending', 'sending', 'sent', 'given_up')),
  attempts INTEGER NOT NULL DEFAULT 0,       -- sends tried (bounded)
  next_try_at DATETIME,                      -- a send that failed is tried again from then
  claimed_by TEXT,                           -- the claim's token while one process sends it
  claimed_at DATETIME,
  delivered TEXT,                            -- JSON: the URLs (fingerprints) that took it already
  last_error TEXT,                           -- why the last send failed, secrets masked
  created_at DATETIME NOT NULL,
  sent_at DATETIME
);
-- What a sender and the idle tick look for: the rows still to send (and being sent), by when.
CREATE INDEX IF NOT EXISTS idx_notifications_status ON notifications(status, next_try_at);
