//! How the engine's answers and refusals read as Redis replies.

use chiral::{OpError, Reply, WriteError};

use crate::frame::Frame;

/// An operation's reply as a frame.
pub(crate) fn from_reply(reply: Reply) -> Frame {
    match reply {
        Reply::Ok => Frame::OK,
        Reply::Nil => Frame::Null,
        Reply::Int(n) => Frame::Integer(n),
        Reply::Bytes(bytes) => Frame::Bulk(bytes),
        Reply::Array(items) => Frame::Array(items.into_iter().map(from_reply).collect()),
    }
}

/// An operation's refusal as Redis words it.
pub(crate) fn from_op_error(error: &OpError) -> Frame {
    match error {
        OpError::WrongType => Frame::error(format!("WRONGTYPE {error}")),
        OpError::ValueTooLarge { .. } => {
            Frame::error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
        }
        OpError::SnapshotDamaged { .. } => Frame::error(format!("IOERR {error}")),
        _ => Frame::error(format!("ERR {error}")),
    }
}

/// A whole write's refusal as Redis words it.
pub(crate) fn from_write_error(error: &WriteError) -> Frame {
    match error {
        WriteError::Op { error, .. } | WriteError::PreconditionUnreadable { error, .. } => {
            from_op_error(error)
        }
        WriteError::ReadOnly => {
            Frame::error("READONLY You can't write against a read only database.")
        }
        WriteError::LogFailed(reason) => Frame::error(format!(
            "MISCONF The write-ahead log failed, so writes are refused until the server restarts: {reason}"
        )),
        WriteError::Closed => Frame::error("ERR the server is shutting down"),
        _ => Frame::error(format!("ERR {error}")),
    }
}
