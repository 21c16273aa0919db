//! An AI agent: `Librarian` answers questions about the guestbook with two
//! tools, one of which needs a person's approval. Offline it talks to the
//! `Echo` provider; set `BAO_AI_PROVIDERS` (and a key) for a real model.

use serde::Serialize;

/// You look after the guestbook: count words in entries and, when asked,
/// announce something to every visitor.
#[derive(Default)]
pub struct Librarian;

/// What `count_words` returns.
#[derive(Serialize)]
pub struct Count {
    /// Words in the text.
    pub words: usize,
}

#[bao::agent(name = "librarian", max_steps = 6, max_tokens = 20000)]
impl Librarian {
    /// Counts the words of a text. Each call appends a line to the file
    /// named by `EXAMPLE_TOOL_LOG`, when set (the crash test counts them).
    #[tool]
    async fn count_words(&self, text: String) -> bao::Result<Count> {
        if let Ok(path) = std::env::var("EXAMPLE_TOOL_LOG") {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            writeln!(file, "count_words {}", std::process::id())?;
        }
        Ok(Count {
            words: text.split_whitespace().count(),
        })
    }

    /// Announces `text` to every visitor of the guestbook.
    #[tool(requires_approval, scope = "write")]
    async fn announce(&self, text: String) -> bao::Result<String> {
        Ok(format!("announced: {text}"))
    }
}
