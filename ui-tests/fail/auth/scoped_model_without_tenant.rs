#[bao::model(table = "notes", tenant_scoped)]
pub struct Note {
    pub id: i64,
    pub tenant_id: i64,
    pub title: String,
}

async fn leak(db: &bao::db::DbPool) -> bao::Result<Vec<Note>> {
    bao::db::ops::all::<Note>(db).await
}

fn main() {
    let _ = leak;
}
