//! `#[bao::every]` schedules on SQLite and PostgreSQL: two schedulers
//! claim each slot once, missed slots follow the declared policy, `--once`
//! fires what is due, and a failing tick lands in the dead-letter queue and
//! replays.

use bao::db::DbPool;
use bao::task::{dlq, Scheduler, TaskCtx};
use bao::testing::TestDatabase;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static TICKS: Mutex<Vec<(&'static str, i64, bool)>> = Mutex::new(Vec::new());
static FAIL: AtomicBool = AtomicBool::new(false);

#[bao::every("10s")]
async fn every_ten(ctx: TaskCtx) {
    TICKS
        .lock()
        .unwrap()
        .push((ctx.schedule(), ctx.slot().timestamp(), ctx.is_catch_up()));
}

#[bao::every("1m", missed = "catch_up")]
async fn minutely(ctx: TaskCtx) -> bao::Result<()> {
    if FAIL.load(Ordering::SeqCst) {
        return Err(bao::Error::Internal("the report service is down".into()));
    }
    TICKS
        .lock()
        .unwrap()
        .push((ctx.schedule(), ctx.slot().timestamp(), ctx.is_catch_up()));
    Ok(())
}

#[bao::every(cron = "0 0 9 * * Mon", tz = "Europe/Paris")]
async fn weekly(ctx: TaskCtx) {
    TICKS
        .lock()
        .unwrap()
        .push((ctx.schedule(), ctx.slot().timestamp(), ctx.is_catch_up()));
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 0).unwrap()
}

fn setup(db: &TestDatabase) -> DbPool {
    let pool = DbPool::new(db.url()).unwrap();
    bao::db::system::migrate(&mut pool.get().unwrap()).unwrap();
    TICKS.lock().unwrap().clear();
    FAIL.store(false, Ordering::SeqCst);
    pool
}

fn ticks() -> Vec<(&'static str, i64, bool)> {
    let mut t = TICKS.lock().unwrap().clone();
    t.sort();
    t
}

#[bao::test]
async fn two_schedulers_fire_three_slots_exactly_three_times() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        // Two processes: each its own pool and scheduler.
        let other_pool = DbPool::new(db.url()).unwrap();
        let defs = vec![every_ten::definition()];
        let mut a = Scheduler::new(defs.clone(), "a");
        let mut b = Scheduler::new(defs.clone(), "b");
        let t0 = 1_800_000_005; // 5 s into a 10 s slot
        assert!(a.tick(&pool, at(t0)).await.unwrap().is_empty());
        assert!(b.tick(&other_pool, at(t0 + 1)).await.unwrap().is_empty());
        let mut fired = 0;
        // Both tick several times within each of three slots, interleaved.
        for slot in 1..=3 {
            for offset in [5, 6, 7] {
                let now = at(t0 + slot * 10 + offset - 5);
                fired += a.tick(&pool, now).await.unwrap().len();
                fired += b.tick(&other_pool, now).await.unwrap().len();
            }
        }
        assert_eq!(fired, 3, "{:?}", db.dialect());
        let ran = bao::task::drain(&pool, &[every_ten::definition().task])
            .await
            .unwrap();
        assert_eq!(ran, 3);
        assert_eq!(
            ticks(),
            vec![
                ("every_ten", 1_800_000_010, false),
                ("every_ten", 1_800_000_020, false),
                ("every_ten", 1_800_000_030, false),
            ]
        );
    }
}

#[bao::test]
async fn missed_slots_are_skipped_or_caught_up_once() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let defs = vec![every_ten::definition(), minutely::definition()];
        let tasks: Vec<_> = defs.iter().map(|d| d.task).collect();
        let t0 = 1_800_000_000; // a whole minute
        let mut first = Scheduler::new(defs.clone(), "first");
        first.tick(&pool, at(t0 - 1)).await.unwrap();
        let fired = first.tick(&pool, at(t0)).await.unwrap();
        assert_eq!(fired.len(), 2, "both fire at the minute");
        bao::task::drain(&pool, &tasks).await.unwrap();
        TICKS.lock().unwrap().clear();

        // Down for ten minutes; a new scheduler starts between slots.
        let restart = t0 + 600 + 25;
        let mut second = Scheduler::new(defs.clone(), "second");
        let fired = second.tick(&pool, at(restart)).await.unwrap();
        assert_eq!(
            fired.len(),
            1,
            "one catch-up, for the minutely schedule only"
        );
        assert!(fired[0].catch_up);
        bao::task::drain(&pool, &tasks).await.unwrap();
        assert_eq!(ticks(), vec![("minutely", t0 + 600, true)]);

        // A third start right after: nothing is missed any more.
        let mut third = Scheduler::new(defs.clone(), "third");
        assert!(third.tick(&pool, at(restart + 1)).await.unwrap().is_empty());
    }
}

#[bao::test]
async fn once_fires_the_latest_due_slot_of_each_schedule_a_single_time() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let defs = vec![every_ten::definition(), weekly::definition()];
        let tasks: Vec<_> = defs.iter().map(|d| d.task).collect();
        // Wednesday 2027-01-13 12:00:03 UTC.
        let now = Utc.with_ymd_and_hms(2027, 1, 13, 12, 0, 3).unwrap();
        let mut s = Scheduler::new(defs.clone(), "once");
        let fired = s.fire_due_once(&pool, now).await.unwrap();
        assert_eq!(fired.len(), 2);
        assert!(s.fire_due_once(&pool, now).await.unwrap().is_empty());
        bao::task::drain(&pool, &tasks).await.unwrap();
        // Monday 9:00 in Paris is 8:00 UTC in winter.
        let monday = Utc.with_ymd_and_hms(2027, 1, 11, 8, 0, 0).unwrap();
        assert_eq!(
            ticks(),
            vec![
                ("every_ten", now.timestamp() - 3, false),
                ("weekly", monday.timestamp(), false),
            ]
        );
    }
}

#[bao::test]
async fn a_failing_tick_is_dead_lettered_and_replays() {
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let def = minutely::definition();
        FAIL.store(true, Ordering::SeqCst);
        let mut s = Scheduler::new(vec![def], "dlq");
        let fired = s.fire_due_once(&pool, at(1_800_000_030)).await.unwrap();
        assert_eq!(fired.len(), 1);
        bao::task::drain(&pool, &[def.task]).await.unwrap();
        let letters = dlq::list(&mut pool.get().unwrap(), Some("every:minutely"), 10).unwrap();
        assert_eq!(letters.len(), 1);
        assert!(letters[0].error.contains("report service is down"));
        FAIL.store(false, Ordering::SeqCst);
        let outcome =
            bao::task::replay_dead_letter(&mut pool.get().unwrap(), letters[0].id, Some(1))
                .unwrap();
        assert!(outcome.starts_with("re-enqueued"), "{outcome}");
        bao::task::drain(&pool, &[def.task]).await.unwrap();
        assert_eq!(ticks(), vec![("minutely", 1_800_000_000, false)]);
    }
}

#[bao::test]
async fn a_slot_whose_claim_failed_is_claimed_on_the_next_tick() {
    use diesel::connection::SimpleConnection;
    for db in TestDatabase::each() {
        let pool = setup(&db);
        let mut s = Scheduler::new(vec![every_ten::definition()], "flaky-db");
        let t0 = 1_800_000_005;
        s.tick(&pool, at(t0)).await.unwrap();
        let hide = "ALTER TABLE bao_schedule_slots RENAME TO bao_schedule_slots_hidden";
        let show = "ALTER TABLE bao_schedule_slots_hidden RENAME TO bao_schedule_slots";
        pool.get().unwrap().batch_execute(hide).unwrap();
        assert!(
            s.tick(&pool, at(t0 + 6)).await.is_err(),
            "the database failed"
        );
        pool.get().unwrap().batch_execute(show).unwrap();
        let fired = s.tick(&pool, at(t0 + 7)).await.unwrap();
        assert_eq!(fired.len(), 1, "the slot was not lost");
        assert_eq!(fired[0].slot, at(t0 + 5));
    }
}
