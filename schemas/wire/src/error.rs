//! The crate's one error type: a document Automerge could not read or write.

/// A document operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Boxed: Automerge's error is 120 bytes and would make every `Result` large.
    #[error("组织文档损坏:{0}")]
    Document(Box<automerge::AutomergeError>),
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Document(Box::new(e))
    }
}

impl Error {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Document(_) => "store.document",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
