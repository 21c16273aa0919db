mod billing {
    #[bao::task]
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

fn main() {}
