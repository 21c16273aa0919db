//! Two tasks with one function name, told apart by `name = ".."`.

mod billing {
    #[bao::task(name = "billing.send")]
    pub async fn send(order_id: i64) -> bao::Result<()> {
        let _ = order_id;
        Ok(())
    }
}

mod marketing {
    #[bao::task]
    pub async fn send(campaign_id: i64) -> bao::Result<()> {
        let _ = campaign_id;
        Ok(())
    }
}

bao::app! {
    tasks: [billing::send, marketing::send],
}

fn main() {
    assert_eq!(billing::send::NAME, "billing.send");
    assert_eq!(marketing::send::NAME, "send");
    let _ = app();
}
