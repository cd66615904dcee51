//! A command's arguments, read one at a time with Redis's error for each misuse.
//!
//! Parsers of commands take what they need from an [`Args`] in order; a value of
//! the wrong form becomes the error reply Redis gives for it, so clients that match
//! on Redis's messages keep working.

use bytes::Bytes;

use crate::frame::Frame;

/// Redis's reply to an option it does not understand.
pub(crate) fn syntax_error() -> Frame {
    Frame::error("ERR syntax error")
}

/// Redis's reply to a number that is not a 64-bit integer.
pub(crate) fn not_integer() -> Frame {
    Frame::error("ERR value is not an integer or out of range")
}

/// The arguments after the command name.
pub(crate) struct Args {
    /// The request's arguments; those before `next` are used (taken out).
    items: Vec<Bytes>,
    next: usize,
}

impl Args {
    /// The arguments of a request, `items`, after the first (the command's name).
    pub(crate) fn after_name(items: Vec<Bytes>) -> Self {
        Args {
            next: 1.min(items.len()),
            items,
        }
    }

    /// How many are left.
    pub(crate) fn remaining(&self) -> usize {
        self.items.len() - self.next
    }

    /// Whether none is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next argument. The command table checked the arity, so a parser that
    /// asks for no more than its arity allows gets one; past it, a syntax error.
    pub(crate) fn bytes(&mut self) -> Result<Bytes, Frame> {
        let item = self.items.get_mut(self.next).ok_or_else(syntax_error)?;
        self.next += 1;
        Ok(std::mem::take(item))
    }

    /// The next argument as a key.
    pub(crate) fn key(&mut self) -> Result<chiral::ByteString, Frame> {
        Ok(self.bytes()?.as_ref().into())
    }

    /// The next argument as a string value.
    pub(crate) fn value(&mut self) -> Result<chiral::Value, Frame> {
        Ok(chiral::Value::Bytes(self.bytes()?.as_ref().into()))
    }

    /// The next argument, upper-cased, for matching an option name.
    pub(crate) fn keyword(&mut self) -> Result<Vec<u8>, Frame> {
        Ok(self.bytes()?.to_ascii_uppercase())
    }

    /// The next argument as a 64-bit integer.
    pub(crate) fn int(&mut self) -> Result<i64, Frame> {
        chiral::parse_int(&self.bytes()?).ok_or_else(not_integer)
    }

    /// The next argument as a float (Redis's message for a bad one).
    pub(crate) fn float(&mut self) -> Result<f64, Frame> {
        chiral::parse_float(&self.bytes()?)
            .ok_or_else(|| Frame::error("ERR value is not a valid float"))
    }

    /// The rest of the arguments, in the request's own vector (no allocation).
    pub(crate) fn rest(&mut self) -> Vec<Bytes> {
        let mut items = std::mem::take(&mut self.items);
        items.drain(..self.next);
        self.next = 0;
        items
    }

    /// The rest, as keys.
    pub(crate) fn rest_keys(&mut self) -> Vec<chiral::ByteString> {
        let keys = self.items[self.next..]
            .iter()
            .map(|item| item.as_ref().into())
            .collect();
        self.next = self.items.len();
        keys
    }

    /// A syntax error unless every argument was used.
    pub(crate) fn finish(&self) -> Result<(), Frame> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(syntax_error())
        }
    }
}
