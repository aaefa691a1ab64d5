-- The earlier app's DDL (docs/data.md), as its versions created it: no contents, no
-- scheduler_lock, the short task_logs.
CREATE TABLE tasks (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  type TEXT NOT NULL CHECK(type IN ('shortform', 'longform', 'product')),
  user_id TEXT,
  product_info TEXT,
  settings TEXT,
  youtube_url TEXT,
  last_error TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE task_schedules (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  scheduled_time DATETIME,
  repeat_type TEXT CHECK(repeat_type IN ('once', 'daily', 'weekly', 'monthly')),
  repeat_config TEXT,
  next_run_at DATETIME,
  is_active INTEGER DEFAULT 1,
  channel_setting_id TEXT,
  youtube_privacy TEXT DEFAULT 'public',
  youtube_publish_time DATETIME,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  FOREIGN KEY (task_id) REFERENCES tasks(id)
);

CREATE TABLE task_queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  schedule_id INTEGER REFERENCES task_schedules(id),
  queue_type TEXT NOT NULL CHECK(queue_type IN (
    'schedule', 'script', 'image', 'video', 'youtube'
  )),
  status TEXT NOT NULL CHECK(status IN (
    'waiting', 'processing', 'completed', 'failed'
  )),
  retry_count INTEGER DEFAULT 0,
  max_retry INTEGER DEFAULT 3,
  next_retry_at DATETIME,
  error_message TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  updated_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  completed_at DATETIME,
  FOREIGN KEY (task_id) REFERENCES tasks(id)
);

CREATE INDEX idx_task_queue_status ON task_queue(queue_type, status);
CREATE INDEX idx_task_queue_task_id ON task_queue(task_id);
CREATE INDEX idx_task_queue_retry ON task_queue(status, next_retry_at);

CREATE TABLE task_logs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task_id TEXT NOT NULL REFERENCES tasks(id),
  queue_id INTEGER REFERENCES task_queue(id),
  level TEXT CHECK(level IN ('info', 'warn', 'error')),
  message TEXT NOT NULL,
  metadata TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_task_logs_task_id ON task_logs(task_id);
