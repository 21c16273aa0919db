//! Workflows as a subsystem: the run pages, the run and step gauges, and the
//! worker loops of `bao serve` and `bao worker`.

use super::{page, WorkerSettings, WorkflowDef};
use crate::obs::metrics::StatusGauge;
use crate::subsystem::{Core, Mounted, Subsystem, Worker};
use std::sync::Arc;

/// The app's workflows (what `bao::app! { workflows: [..] }` lists).
#[derive(Clone, Default)]
pub struct Workflows {
    pub(crate) defs: Vec<WorkflowDef>,
}

impl Subsystem for Workflows {
    fn name(&self) -> &'static str {
        "workflows"
    }

    fn routes(&self) -> Vec<crate::RouteInfo> {
        crate::http::WORKFLOW_ROUTES.to_vec()
    }

    fn mount(&self, core: &Core) -> Mounted {
        let pages = Arc::new(page::Pages {
            db: core.db.clone(),
            env: core.config.env,
        });
        let mut mounted = Mounted::new().data(pages).framework_routes(page::configure);
        let Some(pool) = core.db.clone() else {
            return mounted;
        };
        let gauges: Vec<StatusGauge> = [
            (
                "bao_workflow_runs",
                "bao_workflow_runs",
                "Workflow runs by status",
            ),
            (
                "bao_workflow_steps",
                "bao_workflow_steps",
                "Recorded workflow steps by status",
            ),
        ]
        .into_iter()
        .filter_map(|(table, name, help)| StatusGauge::register(&core.metrics, table, name, help))
        .collect();
        let scrape_pool = pool.clone();
        mounted = mounted.metrics(move || {
            let (gauges, pool) = (gauges.clone(), scrape_pool.clone());
            async move {
                for gauge in &gauges {
                    gauge.refresh(&pool).await;
                }
                String::new()
            }
        });
        let settings = WorkerSettings {
            lease: core.config.workflow_lease,
            poll: core.config.workflow_poll,
        };
        let (defs, concurrency) = (self.defs.clone(), core.config.workflow_concurrency);
        let release_pool = pool.clone();
        mounted.worker(
            Worker::new("workflows", move |stop| {
                tracing::info!(
                    workflows = defs.len(),
                    concurrency,
                    "workflow workers started"
                );
                super::work(pool, defs, settings, concurrency, stop)
            })
            .on_timeout(move || async move {
                // Released now rather than when their leases expire.
                match super::release_held(&release_pool).await {
                    Ok(n) => tracing::warn!(
                        released = n,
                        "workflow runs were still executing at the drain timeout: released for another worker"
                    ),
                    Err(error) => tracing::error!(%error, "could not release the workflow runs in hand"),
                }
            }),
        )
    }
}
