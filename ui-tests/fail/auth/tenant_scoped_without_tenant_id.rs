#[bao::model(table = "notes", tenant_scoped)]
pub struct Note {
    pub id: i64,
    pub title: String,
}

fn main() {}
