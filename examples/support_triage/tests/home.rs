use bao::testing::TestClient;

#[bao::test]
async fn home_page_renders() {
    let client = TestClient::new(support_triage::app()).await;
    client
        .get("/")
        .await
        .assert_ok()
        .assert_see("Bao Cloud support");
}

#[bao::test]
async fn health_probe_answers() {
    let client = TestClient::new(support_triage::app()).await;
    client
        .get("/healthz")
        .await
        .assert_ok()
        .assert_json(bao::json!({"ok": true}));
}
