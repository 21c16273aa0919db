//! `BAO_MAX_INFLIGHT_TASKS`: enqueueing over the bound answers QueueFull
//! (a test binary of its own: the bound is read once per process).

use bao::task::TaskError;
use bao::testing::TestDatabase;

#[bao::task]
async fn noop(n: i64) -> bao::Result<()> {
    let _ = n;
    Ok(())
}

#[bao::test]
async fn enqueue_over_the_bound_is_refused() {
    // Set before the first enqueue of this process reads it.
    unsafe { std::env::set_var("BAO_MAX_INFLIGHT_TASKS", "3") };
    for db in TestDatabase::each() {
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        for n in 0..3 {
            noop::enqueue(&pool, n).await.unwrap();
        }
        match noop::enqueue(&pool, 3).await {
            Err(TaskError::QueueFull(n)) => assert_eq!(n, 3),
            other => panic!("expected QueueFull, got {other:?}"),
        }
        bao::task::drain(&pool, &[noop::definition()])
            .await
            .unwrap();
        noop::enqueue(&pool, 4)
            .await
            .expect("room again once the tasks ran");
    }
}
