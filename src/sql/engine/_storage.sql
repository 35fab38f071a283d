-- Storage settings drizzle-kit cannot express. Tasks and runs are updated soon after they are
-- written (a task is started, then completed; a run counts down its steps): free space on each page
-- lets those updates stay on the page (HOT), so they write no new index entries.
alter table pgflow.step_tasks set (fillfactor = 70);
alter table pgflow.runs set (fillfactor = 80);
