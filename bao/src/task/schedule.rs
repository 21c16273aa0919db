//! `#[bao::every]` schedules and the scheduler.
//!
//! A schedule's slots are points in time (multiples of an interval since the
//! Unix epoch, or the fire times of a cron expression in a time zone). The
//! scheduler claims each due slot by inserting `(name, slot)` into
//! `bao_schedule_slots`; the primary key lets one process win, and the
//! winner enqueues the schedule's task in the same transaction. So a slot
//! fires once however many schedulers run, and the tick itself is a durable
//! task: a worker that dies mid-tick is replaced like for any task.

use super::{store, TaskDef};
use crate::db::on_dialect;
use crate::db::{DbConnection, DbError, DbPool};
use chrono::{DateTime, TimeZone, Utc};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// When a schedule fires (what `#[bao::every]` parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleSpec {
    /// Every `ms` milliseconds, aligned on the Unix epoch (`"30s"` fires at
    /// :00 and :30 of every minute).
    Every {
        /// The interval.
        ms: u64,
    },
    /// The fire times of a cron expression (seconds first) in a time zone.
    Cron {
        /// The expression.
        expr: &'static str,
        /// An IANA time zone name.
        tz: &'static str,
    },
}

/// What a scheduler does with slots that passed while none was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Missed {
    /// Forget them (the default).
    Skip,
    /// Run once for the latest of them, at start-up.
    CatchUp,
}

/// A registered schedule: what `#[bao::every]` generates.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleDef {
    /// Its name (the function's).
    pub name: &'static str,
    /// The schedule as written.
    pub text: &'static str,
    /// When it fires.
    pub spec: ScheduleSpec,
    /// What happens to slots missed during downtime.
    pub missed: Missed,
    /// The task each tick runs as (named `every:<name>`).
    pub task: TaskDef,
}

impl ScheduleDef {
    fn cron(&self) -> Option<(cron::Schedule, chrono_tz::Tz)> {
        match self.spec {
            ScheduleSpec::Every { .. } => None,
            ScheduleSpec::Cron { expr, tz } => {
                // Both were checked when the app compiled.
                let schedule = cron::Schedule::from_str(expr).ok()?;
                let tz = chrono_tz::Tz::from_str(tz).ok()?;
                Some((schedule, tz))
            }
        }
    }

    /// The first slot strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.spec {
            ScheduleSpec::Every { ms } => {
                let ms = i64::try_from(ms).ok()?;
                let next = (t.timestamp_millis().div_euclid(ms) + 1) * ms;
                Utc.timestamp_millis_opt(next).single()
            }
            ScheduleSpec::Cron { .. } => {
                let (schedule, tz) = self.cron()?;
                schedule
                    .after(&t.with_timezone(&tz))
                    .next()
                    .map(|d| d.with_timezone(&Utc))
            }
        }
    }

    /// The latest slot at or before `t`.
    pub fn latest_at(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.spec {
            ScheduleSpec::Every { ms } => {
                let ms = i64::try_from(ms).ok()?;
                let slot = t.timestamp_millis().div_euclid(ms) * ms;
                Utc.timestamp_millis_opt(slot).single()
            }
            ScheduleSpec::Cron { .. } => {
                let (schedule, tz) = self.cron()?;
                // Slots fall on whole seconds: the previous one before the
                // next second is the latest at or before `t`. The cron
                // crate counts a slot equal to the start as "before" it, so
                // in the last second before a slot that slot comes back:
                // step back once more from just before it.
                let just_after =
                    t + chrono::Duration::milliseconds(1000 - t.timestamp_subsec_millis() as i64);
                let previous = |from: DateTime<Utc>| {
                    schedule
                        .after(&from.with_timezone(&tz))
                        .next_back()
                        .map(|d| d.with_timezone(&Utc))
                };
                let slot = previous(just_after)?;
                if slot <= t {
                    Some(slot)
                } else {
                    previous(slot - chrono::Duration::seconds(1)).filter(|d| *d <= t)
                }
            }
        }
    }
}

/// What a scheduled function gets: which schedule and slot it runs for,
/// and the app's database.
#[derive(Debug, Clone)]
pub struct TaskCtx {
    schedule: &'static str,
    slot: DateTime<Utc>,
    catch_up: bool,
    db: DbPool,
}

impl TaskCtx {
    /// The schedule's name.
    pub fn schedule(&self) -> &'static str {
        self.schedule
    }

    /// The slot this tick is for (not the time it started).
    pub fn slot(&self) -> DateTime<Utc> {
        self.slot
    }

    /// Whether this tick catches up on slots missed while no scheduler ran.
    pub fn is_catch_up(&self) -> bool {
        self.catch_up
    }

    /// The app's database.
    pub fn db(&self) -> &DbPool {
        &self.db
    }

    #[doc(hidden)]
    pub fn from_args(schedule: &'static str, args: serde_json::Value) -> crate::Result<TaskCtx> {
        let slot = args
            .get("slot")
            .and_then(serde_json::Value::as_i64)
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .ok_or_else(|| {
                crate::Error::BadRequest(format!("schedule `{schedule}`: the tick has no slot"))
            })?;
        let catch_up = args
            .get("catch_up")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        Ok(TaskCtx {
            schedule,
            slot,
            catch_up,
            db: super::db()?,
        })
    }
}

#[derive(QueryableByName)]
struct Slot {
    #[diesel(sql_type = Nullable<BigInt>)]
    slot: Option<i64>,
}

/// The latest slot of `name` claimed by any scheduler.
pub fn last_slot(conn: &mut DbConnection, name: &str) -> Result<Option<i64>, DbError> {
    let rows: Vec<Slot> = on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "SELECT MAX(slot) AS slot FROM bao_schedule_slots WHERE name = ?",
        ))
        .bind::<Text, _>(name)
        .load(c)
    })?;
    Ok(rows.first().and_then(|r| r.slot))
}

/// Claims `slot` of `def` and enqueues its tick, in one transaction; the
/// task's id, or `None` when another scheduler claimed it first.
pub fn claim(
    conn: &mut DbConnection,
    def: &ScheduleDef,
    slot: DateTime<Utc>,
    owner: &str,
    catch_up: bool,
) -> Result<Option<i64>, DbError> {
    let slot_ms = slot.timestamp_millis();
    conn.write_transaction::<_, DbError, _>(|conn| {
        let inserted = on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "INSERT INTO bao_schedule_slots (name, slot, claimed_by, catch_up, created_at) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, slot) DO NOTHING",
            ))
            .bind::<Text, _>(def.name)
            .bind::<BigInt, _>(slot_ms)
            .bind::<Text, _>(owner)
            .bind::<Integer, _>(i32::from(catch_up))
            .bind::<BigInt, _>(crate::support::clock::now_ms())
            .execute(c)
        })?;
        if inserted == 0 {
            return Ok(None);
        }
        let args = serde_json::json!({ "slot": slot_ms, "catch_up": catch_up }).to_string();
        // A tick is never refused for a full queue: the slot is claimed.
        let (task, _) = store::insert(
            conn,
            def.task.name,
            &args,
            0,
            i32::try_from(def.task.max_attempts).unwrap_or(1),
            0,
            None,
            i64::MAX,
        )?
        .ok_or_else(|| DbError::Invalid("the tick was not enqueued".into()))?;
        on_dialect!(conn, |c, sql| {
            diesel::sql_query(sql(
                "UPDATE bao_schedule_slots SET task_id = ? WHERE name = ? AND slot = ?",
            ))
            .bind::<BigInt, _>(task)
            .bind::<Text, _>(def.name)
            .bind::<BigInt, _>(slot_ms)
            .execute(c)
        })?;
        Ok(Some(task))
    })
}

/// Forgets claimed slots of `name` older than `before`, keeping the latest
/// (which a catch-up after downtime is measured from).
fn prune(conn: &mut DbConnection, name: &str, before: i64) -> Result<usize, DbError> {
    Ok(on_dialect!(conn, |c, sql| {
        diesel::sql_query(sql(
            "DELETE FROM bao_schedule_slots WHERE name = ? AND slot < ? \
             AND slot < (SELECT MAX(slot) FROM bao_schedule_slots WHERE name = ?)",
        ))
        .bind::<Text, _>(name)
        .bind::<BigInt, _>(before)
        .bind::<Text, _>(name)
        .execute(c)
    })?)
}

/// One claimed tick.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fired {
    /// The schedule.
    pub schedule: &'static str,
    /// The slot.
    pub slot: DateTime<Utc>,
    /// The task that runs it.
    pub task_id: i64,
    /// Whether it catches up on missed slots.
    pub catch_up: bool,
}

/// A scheduler: which slot of each schedule comes next. Drive it with
/// [`Scheduler::tick`] (tests) or [`run_scheduler`].
#[derive(Debug)]
pub struct Scheduler {
    defs: Vec<ScheduleDef>,
    next: Vec<Option<DateTime<Utc>>>,
    owner: String,
    started: bool,
}

impl Scheduler {
    /// A scheduler of `defs`; `owner` names this process in the slots table.
    pub fn new(defs: Vec<ScheduleDef>, owner: impl Into<String>) -> Scheduler {
        let next = vec![None; defs.len()];
        Scheduler {
            defs,
            next,
            owner: owner.into(),
            started: false,
        }
    }

    /// The time the next slot of any schedule is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.next.iter().flatten().min().copied()
    }

    /// Claims what is due at `now`: on the first call, a catch-up for
    /// schedules that want one; then each schedule whose next slot has come
    /// (the latest due slot: a scheduler that fell behind skips the slots
    /// between, and says so).
    pub async fn tick(&mut self, pool: &DbPool, now: DateTime<Utc>) -> Result<Vec<Fired>, DbError> {
        let mut fired = Vec::new();
        if !self.started {
            // Marked started only when every catch-up was settled: after a
            // database error the next tick tries again.
            for (i, def) in self.defs.iter().enumerate() {
                self.next[i] = def.next_after(now);
                if def.missed != Missed::CatchUp {
                    continue;
                }
                let (d, owner) = (*def, self.owner.clone());
                let claimed = pool
                    .run(move |c| {
                        let Some(last) = last_slot(c, d.name)? else {
                            return Ok(None);
                        };
                        // The latest slot missed: after the last claimed one,
                        // and not the current one (which fires normally).
                        let Some(missed) = d.latest_at(now - chrono::Duration::milliseconds(1))
                        else {
                            return Ok(None);
                        };
                        if missed.timestamp_millis() <= last {
                            return Ok(None);
                        }
                        Ok(claim(c, &d, missed, &owner, true)?.map(|task| (missed, task)))
                    })
                    .await?;
                if let Some((slot, task_id)) = claimed {
                    tracing::info!(schedule = def.name, %slot, "catching up on a missed slot");
                    fired.push(Fired {
                        schedule: def.name,
                        slot,
                        task_id,
                        catch_up: true,
                    });
                }
            }
            self.started = true;
        }
        for i in 0..self.defs.len() {
            let def = self.defs[i];
            let Some(next) = self.next[i] else { continue };
            if next > now {
                continue;
            }
            let slot = def.latest_at(now).unwrap_or(next).max(next);
            if slot > next {
                tracing::warn!(schedule = def.name, from = %next, to = %slot, "the scheduler fell behind: skipping to the latest slot");
            }
            // Claimed before moving on: after a database error the next tick
            // tries this slot again.
            fired.extend(self.claim_slot(pool, def, slot).await?);
            self.next[i] = def.next_after(now);
        }
        Ok(fired)
    }

    /// Claims one slot on time (not a catch-up).
    async fn claim_slot(
        &self,
        pool: &DbPool,
        def: ScheduleDef,
        slot: DateTime<Utc>,
    ) -> Result<Option<Fired>, DbError> {
        let owner = self.owner.clone();
        let claimed = pool
            .run(move |c| claim(c, &def, slot, &owner, false))
            .await?;
        Ok(claimed.map(|task_id| Fired {
            schedule: def.name,
            slot,
            task_id,
            catch_up: false,
        }))
    }

    /// Claims the latest slot at or before `now` of every schedule, unless
    /// claimed already (`bao scheduler:run --once`).
    pub async fn fire_due_once(
        &mut self,
        pool: &DbPool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Fired>, DbError> {
        let mut fired = Vec::new();
        for def in self.defs.clone() {
            let Some(slot) = def.latest_at(now) else {
                continue;
            };
            fired.extend(self.claim_slot(pool, def, slot).await?);
        }
        Ok(fired)
    }
}

/// Runs the scheduler until `stop`: claims due slots (their ticks run on the
/// task workers) and prunes slots older than a week.
pub async fn run_scheduler(pool: DbPool, defs: Vec<ScheduleDef>, stop: Arc<AtomicBool>) {
    if defs.is_empty() {
        return;
    }
    let ready = pool.clone();
    if let Err(error) = pool.run(move |c| ready.ensure_system_tables(c)).await {
        tracing::error!(%error, "the scheduler cannot prepare its tables");
    }
    let owner = format!("scheduler:{}", std::process::id());
    let names: Vec<&'static str> = defs.iter().map(|d| d.name).collect();
    let mut scheduler = Scheduler::new(defs, owner);
    let mut last_prune = std::time::Instant::now();
    tracing::info!(schedules = ?names, "scheduler started");
    while !stop.load(Ordering::SeqCst) {
        match scheduler.tick(&pool, Utc::now()).await {
            Ok(fired) => {
                for f in fired {
                    tracing::debug!(schedule = f.schedule, slot = %f.slot, task = f.task_id, "schedule fired");
                }
            }
            Err(error) => tracing::error!(%error, "scheduler"),
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = std::time::Instant::now();
            let week_ago = crate::support::clock::now_ms() - 7 * 86_400_000;
            let names = names.clone();
            let pruned = pool
                .run(move |c| {
                    let mut n = 0;
                    for name in names {
                        n += prune(c, name, week_ago)?;
                    }
                    Ok(n)
                })
                .await;
            if let Err(error) = pruned {
                tracing::warn!(%error, "pruning schedule slots");
            }
        }
        // Sleep until the next slot, waking at least every 250 ms to see
        // `stop`.
        let wait = scheduler
            .next_due()
            .map(|due| (due - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(5), Duration::from_millis(250));
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(spec: ScheduleSpec) -> ScheduleDef {
        ScheduleDef {
            name: "t",
            text: "",
            spec,
            missed: Missed::Skip,
            task: TaskDef {
                name: "every:t",
                kind: super::super::TaskKind::Io,
                max_attempts: 1,
                max_concurrency: 1,
                run: |_| Box::pin(async { Ok(()) }),
            },
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn intervals_align_on_the_epoch() {
        let d = def(ScheduleSpec::Every { ms: 30_000 });
        assert_eq!(
            d.next_after(at("2026-11-27T10:00:10Z")),
            Some(at("2026-11-27T10:00:30Z"))
        );
        assert_eq!(
            d.next_after(at("2026-11-27T10:00:30Z")),
            Some(at("2026-11-27T10:01:00Z"))
        );
        assert_eq!(
            d.latest_at(at("2026-11-27T10:00:30Z")),
            Some(at("2026-11-27T10:00:30Z"))
        );
        assert_eq!(
            d.latest_at(at("2026-11-27T10:00:59.9Z")),
            Some(at("2026-11-27T10:00:30Z"))
        );
    }

    #[test]
    fn the_latest_cron_slot_is_found_at_every_moment() {
        let d = def(ScheduleSpec::Cron {
            expr: "0 */5 * * * *",
            tz: "UTC",
        });
        let base = at("2026-12-07T16:00:00Z");
        // Every 7 ms over two slots, with sub-millisecond time left over:
        // the last second before a slot once found nothing.
        for ms in (0..600_000).step_by(7) {
            let t =
                base + chrono::Duration::milliseconds(ms) + chrono::Duration::nanoseconds(123_456);
            let want = base + chrono::Duration::minutes(ms / 300_000 * 5);
            assert_eq!(d.latest_at(t), Some(want), "at {t}");
        }
        assert_eq!(
            d.latest_at(at("2026-12-07T16:04:59.999Z")),
            Some(at("2026-12-07T16:00:00Z"))
        );
        assert_eq!(
            d.latest_at(at("2026-12-07T16:05:00Z")),
            Some(at("2026-12-07T16:05:00Z"))
        );
    }

    #[test]
    fn cron_slots_follow_the_time_zone() {
        // Monday 9:00 in Paris is 8:00 UTC in winter.
        let d = def(ScheduleSpec::Cron {
            expr: "0 0 9 * * Mon",
            tz: "Europe/Paris",
        });
        assert_eq!(
            d.next_after(at("2026-11-27T12:00:00Z")),
            Some(at("2026-11-30T08:00:00Z"))
        );
        assert_eq!(
            d.latest_at(at("2026-11-30T08:00:00Z")),
            Some(at("2026-11-30T08:00:00Z"))
        );
        assert_eq!(
            d.latest_at(at("2026-11-30T07:59:59.5Z")),
            Some(at("2026-11-23T08:00:00Z"))
        );
        let utc = def(ScheduleSpec::Cron {
            expr: "0 */5 * * * *",
            tz: "UTC",
        });
        assert_eq!(
            utc.latest_at(at("2026-11-27T10:07:00.250Z")),
            Some(at("2026-11-27T10:05:00Z"))
        );
        assert_eq!(
            utc.next_after(at("2026-11-27T10:05:00Z")),
            Some(at("2026-11-27T10:10:00Z"))
        );
    }
}
