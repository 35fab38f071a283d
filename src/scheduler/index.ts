/** The scheduler: fires the ticks of the schedules in pgflow.schedules, exactly once across processes. */
export { startScheduler, type FiredTick, type ScheduleProblem, type SchedulerHandle, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
export { CronError, CronSchedule, cronProblem, isKnownTimeZone } from './cron.js';
export { readSchedules, type ScheduleState, type ScheduleSnapshot } from './schedules.js';
