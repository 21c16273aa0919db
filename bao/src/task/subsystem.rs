//! Tasks and schedules as a subsystem: the task gauge, the worker loops
//! and, with `BAO_ENABLE_SCHEDULER=1`, the scheduler.

use super::{ScheduleDef, TaskDef, TaskSettings};
use crate::obs::metrics::StatusGauge;
use crate::subsystem::{Core, Mounted, Subsystem, Worker};

/// The app's tasks and schedules (what `bao::app! { tasks: [..],
/// schedules: [..] }` lists; a schedule's ticks are tasks too).
#[derive(Clone, Default)]
pub struct Tasks {
    pub(crate) defs: Vec<TaskDef>,
    pub(crate) schedules: Vec<ScheduleDef>,
}

impl Subsystem for Tasks {
    fn name(&self) -> &'static str {
        "tasks"
    }

    fn mount(&self, core: &Core) -> Mounted {
        super::configure(&core.config);
        let mut mounted = Mounted::new();
        let Some(pool) = core.db.clone() else {
            return mounted;
        };
        if let Some(gauge) = StatusGauge::register(
            &core.metrics,
            "bao_tasks",
            "bao_tasks",
            "Background tasks by status",
        ) {
            let scrape_pool = pool.clone();
            mounted = mounted.metrics(move || {
                let (gauge, pool) = (gauge.clone(), scrape_pool.clone());
                async move {
                    gauge.refresh(&pool).await;
                    String::new()
                }
            });
        }
        if !self.defs.is_empty() {
            let settings = TaskSettings {
                lease: core.config.workflow_lease,
                poll: core.config.workflow_poll,
            };
            let (defs, concurrency) = (self.defs.clone(), core.config.task_concurrency);
            let (run_pool, release_pool) = (pool.clone(), pool.clone());
            mounted = mounted.worker(
                Worker::new("tasks", move |stop| {
                    tracing::info!(tasks = defs.len(), "task workers started");
                    super::work(run_pool, defs, settings, concurrency, stop)
                })
                .on_timeout(move || async move {
                    match super::release_unfinished(&release_pool).await {
                        Ok(n) => tracing::warn!(
                            released = n,
                            "tasks still running at the drain timeout were released for another process"
                        ),
                        Err(error) => tracing::error!(%error, "releasing unfinished tasks"),
                    }
                }),
            );
        }
        if self.schedules.is_empty() {
            return mounted;
        }
        if !core.config.enable_scheduler {
            let count = self.schedules.len();
            // Said where workers run (`serve`, `worker`), not in every command.
            return mounted.worker(Worker::new("scheduler", move |_| async move {
                tracing::info!(
                    schedules = count,
                    "the scheduler is off: set BAO_ENABLE_SCHEDULER=1 or run `bao scheduler:run` so #[bao::every] functions fire"
                );
            }));
        }
        let schedules = self.schedules.clone();
        mounted.worker(Worker::new("scheduler", move |stop| {
            super::run_scheduler(pool, schedules, stop)
        }))
    }
}
