//! Errors: one `ErrorCode` list, defined here once; the bindings turn it into `error.code` in JavaScript.

use std::fmt;

/// The stable error codes of the public API. `as_str` is what JavaScript sees as `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidKey,
    InvalidValue,
    InvalidPath,
    InvalidName,
    LimitExceeded,
    BranchNotFound,
    BranchExists,
    Conflict,
    MergeConflict,
    ReadOnly,
    Closed,
    Locked,
    Io,
    Corrupt,
    Unsupported,
}

impl ErrorCode {
    /// Every code, in the order the TypeScript list mirrors (a test compares the two).
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::InvalidKey,
        ErrorCode::InvalidValue,
        ErrorCode::InvalidPath,
        ErrorCode::InvalidName,
        ErrorCode::LimitExceeded,
        ErrorCode::BranchNotFound,
        ErrorCode::BranchExists,
        ErrorCode::Conflict,
        ErrorCode::MergeConflict,
        ErrorCode::ReadOnly,
        ErrorCode::Closed,
        ErrorCode::Locked,
        ErrorCode::Io,
        ErrorCode::Corrupt,
        ErrorCode::Unsupported,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidKey => "INVALID_KEY",
            ErrorCode::InvalidValue => "INVALID_VALUE",
            ErrorCode::InvalidPath => "INVALID_PATH",
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
            ErrorCode::BranchNotFound => "BRANCH_NOT_FOUND",
            ErrorCode::BranchExists => "BRANCH_EXISTS",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::MergeConflict => "MERGE_CONFLICT",
            ErrorCode::ReadOnly => "READ_ONLY",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::Locked => "LOCKED",
            ErrorCode::Io => "IO",
            ErrorCode::Corrupt => "CORRUPT",
            ErrorCode::Unsupported => "UNSUPPORTED",
        }
    }
}

impl AsRef<str> for ErrorCode {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// A failure: a code for programs and a message for people (what is wrong and how to fix it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Shorthand for building an `Err` with a code and a formatted message.
macro_rules! fail {
    ($code:ident, $($arg:tt)*) => {
        Err($crate::error::Error::new($crate::error::ErrorCode::$code, format!($($arg)*)))
    };
}
pub(crate) use fail;
