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

#[bao::test]
async fn background_work_over_the_bound_is_dropped_and_counted() {
    unsafe { std::env::set_var("BAO_MAX_INFLIGHT_TASKS", "2") };
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let mut accepted = 0;
    for _ in 0..2 {
        let gate = gate.clone();
        accepted += usize::from(bao::background(async move {
            let _ = gate.acquire().await;
        }));
    }
    assert_eq!(accepted, 2);
    assert_eq!(bao::task::background_running(), 2);
    assert!(
        !bao::background(async {}),
        "a third piece of work is over the bound"
    );
    gate.add_permits(2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while bao::task::background_running() > 0 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(bao::background(async {
        Err::<(), _>("the webhook answered 500")
    }));
    while bao::task::background_running() > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let metrics = bao::fault::metrics::render();
    assert!(
        metrics.contains("bao_background_total{outcome=\"accepted\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bao_background_total{outcome=\"dropped\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bao_background_total{outcome=\"failed\"} 1"),
        "{metrics}"
    );
}

pub struct Orders;

#[bao::controller("/orders")]
impl Orders {
    /// Queues the order's receipt: 202 with the task's id.
    #[post("/{id}/receipt")]
    #[csrf_exempt]
    async fn receipt(id: i64, db: bao::Db) -> bao::Result<bao::web::HttpResponse> {
        let task = noop::enqueue(&db, id).await?;
        Ok(bao::web::HttpResponse::Accepted().json(bao::json!({ "task": task.id })))
    }
}

bao::app! { controllers: [Orders], tasks: [noop] }

#[bao::test]
async fn handlers_enqueue_and_a_full_queue_answers_503() {
    for db in TestDatabase::each() {
        // The app's configuration sets the bound when the app starts.
        let config = bao::Config::from_vars(&[
            ("BAO_DATABASE_URL", db.url()),
            ("BAO_MAX_INFLIGHT_TASKS", "2"),
        ])
        .unwrap();
        let client = bao::testing::TestClient::with_config(app(), config).await;
        for id in 1..=2 {
            client
                .post(&format!("/orders/{id}/receipt"))
                .send()
                .await
                .assert_status(202)
                .assert_see("\"task\":");
        }
        client
            .post("/orders/3/receipt")
            .send()
            .await
            .assert_status(503)
            .assert_header("retry-after", "5")
            .assert_see("try again");
        let pool = bao::db::DbPool::new(db.url()).unwrap();
        assert_eq!(
            bao::task::drain(&pool, &[noop::definition()])
                .await
                .unwrap(),
            2,
            "what the handlers enqueued runs"
        );
        client
            .post("/orders/3/receipt")
            .send()
            .await
            .assert_status(202);
    }
}
